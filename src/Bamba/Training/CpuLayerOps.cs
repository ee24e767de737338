using System.Numerics.Tensors;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// The layer skeleton's ops on the CPU: float arrays, a fresh one per buffer (the tapes keep them, so when recomputing
/// a layer's tape is garbage once its backward is done, and at most one is alive).
/// </summary>
internal sealed class CpuLayerOps(BambaConfig c, bool recompute) : ILayerOps<float[]>
{
    private float Eps => (float)c.RmsNormEps;

    public bool Recompute => recompute;

    public float[] Buffer(string name, int rows) => new float[rows * c.HiddenSize];

    public float[] TapeBuffer(int layer, string name, int rows) => Buffer(name, rows);

    public void Copy(float[] source, float[] destination, int rows) => source.CopyTo(destination, 0);

    public void RmsNorm(float[] x, Parameter weight, float[] output, int rows) => Norms.RmsNorm(x, weight.Value, Eps, output);

    public void AddScaled(float[] x, float[] delta, float scale, int rows)
    {
        if (scale == 1f) TensorPrimitives.Add(x, delta, x);
        else TensorPrimitives.MultiplyAdd(delta, scale, x, x);
    }

    public void Scale(float[] x, float scale, int rows) => TensorPrimitives.Multiply(x, scale, x);

    public void RmsNormBackward(float[] x, Parameter weight, float[] dy, float[] dx, int rows) =>
        NormsBackward.RmsNorm(x, weight.Value, Eps, dy, dx, weight.Grad);

    /// <summary>Layer <paramref name="index"/> of the plan with the CPU's sublayers.</summary>
    public static TrainingLayer<TrainingBatch, float[]> Layer(BambaConfig c, ParameterSet set, int index, Rope rope, LoraSet? lora, bool recompute) =>
        new(c, set, index, new CpuLayerOps(c, recompute),
            kind => kind == MixerKind.Attention ? new AttentionLayerTrainer(c, set, index, rope, lora) : new MambaLayerTrainer(c, set, index, lora),
            () => new FeedForwardTrainer(c, set, index, lora));
}

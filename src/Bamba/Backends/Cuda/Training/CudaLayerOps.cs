using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>The layer skeleton's ops on the GPU: float32 device buffers reused across batches under their names (tapes: <see cref="TrainContext.TapeName"/>).</summary>
internal sealed class CudaLayerOps(TrainContext t) : ILayerOps<ulong>
{
    private long Elements(int rows) => (long)rows * t.Config.HiddenSize;

    public bool Recompute => t.Recompute;

    public ulong Buffer(string name, int rows) => t.Buffer(name, Elements(rows));

    public ulong TapeBuffer(int layer, string name, int rows) => t.Buffer(t.TapeName(layer, name), Elements(rows));

    public void Copy(ulong source, ulong destination, int rows) => t.Kernels.Device.CopyDevice(destination, source, 4 * Elements(rows));

    public void RmsNorm(ulong x, Parameter weight, ulong output, int rows) =>
        t.Kernels.RmsNorm(x, t.Parameters.Value(weight), output, rows, t.Config.HiddenSize, t.Eps);

    public void AddScaled(ulong x, ulong delta, float scale, int rows) => t.Kernels.AddResidual(x, delta, Elements(rows), scale);

    public void Scale(ulong x, float scale, int rows) => t.Ops.Scale(x, Elements(rows), scale);

    public void RmsNormBackward(ulong x, Parameter weight, ulong dy, ulong dx, int rows) => t.RmsNormBackward(x, weight, dy, dx, rows, t.Config.HiddenSize);

    /// <summary>Layer <paramref name="index"/> of the plan with the GPU's sublayers.</summary>
    public static TrainingLayer<CudaBatch, ulong> Layer(TrainContext t, int index, ulong invFreq, ulong negInvFreq) =>
        new(t.Config, t.Set, index, new CudaLayerOps(t),
            kind => kind == MixerKind.Attention ? new CudaAttentionLayerTrainer(t, index, invFreq, negInvFreq) : new CudaMambaLayerTrainer(t, index),
            () => new CudaFeedForwardTrainer(t, index));
}

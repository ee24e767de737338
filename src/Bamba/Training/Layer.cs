using System.Numerics.Tensors;
using Bamba.Backends.Cpu;
using Bamba.Configuration;

namespace Bamba.Training;

/// <summary>One decoder layer for training: <c>x += mixer(rmsnorm(x)); x += mlp(rmsnorm(x))</c>, and its backward.</summary>
internal sealed class Layer
{
    private readonly BambaConfig _c;
    private readonly Parameter _inputNorm, _ffNorm;
    private readonly MambaLayerTrainer? _mamba;
    private readonly AttentionLayerTrainer? _attention;
    private readonly MlpTrainer _mlp;

    public Layer(BambaConfig c, ParameterSet set, int index, Rope rope)
    {
        _c = c;
        _inputNorm = set[$"model.layers.{index}.input_layernorm.weight"];
        _ffNorm = set[$"model.layers.{index}.pre_ff_layernorm.weight"];
        if (c.IsAttentionLayer(index)) _attention = new AttentionLayerTrainer(c, set, index, rope);
        else _mamba = new MambaLayerTrainer(c, set, index);
        _mlp = new MlpTrainer(c, set, index);
    }

    /// <summary>The residual stream before the mixer and before the MLP, and the sublayers' own tapes.</summary>
    public sealed record Tape(float[] XIn, float[] XMid, object Mixer, MlpTrainer.Tape Mlp);

    private float Eps => (float)_c.RmsNormEps;

    /// <summary>Updates <paramref name="x"/> in place to the layer's output.</summary>
    public Tape Forward(TrainingBatch batch, float[] x)
    {
        int rows = batch.Rows;
        var xIn = (float[])x.Clone();
        var normed = new float[x.Length];
        var delta = new float[x.Length];
        Norms.RmsNorm(x, _inputNorm.Value, Eps, normed);
        object mixer = _attention is not null ? _attention.Forward(batch, normed, delta) : _mamba!.Forward(batch, normed, delta);
        TensorPrimitives.Add(x, delta, x);
        var xMid = (float[])x.Clone();
        var normed2 = new float[x.Length];
        Norms.RmsNorm(x, _ffNorm.Value, Eps, normed2);
        var mlp = _mlp.Forward(rows, normed2, delta);
        TensorPrimitives.Add(x, delta, x);
        return new Tape(xIn, xMid, mixer, mlp);
    }

    /// <summary>Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input.</summary>
    public void Backward(TrainingBatch batch, Tape tape, float[] dx)
    {
        var dNormed2 = _mlp.Backward(batch.Rows, tape.Mlp, dx);
        NormsBackward.RmsNorm(tape.XMid, _ffNorm.Value, Eps, dNormed2, dx, _ffNorm.Grad);
        var dNormed = _attention is not null
            ? _attention.Backward(batch, (AttentionLayerTrainer.Tape)tape.Mixer, dx)
            : _mamba!.Backward(batch, (MambaLayerTrainer.Tape)tape.Mixer, dx);
        NormsBackward.RmsNorm(tape.XIn, _inputNorm.Value, Eps, dNormed, dx, _inputNorm.Grad);
    }
}

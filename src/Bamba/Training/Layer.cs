using System.Numerics.Tensors;
using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// One decoder layer for training, as its plan has it: <c>x += r·mixer(rmsnorm(x))</c> and/or
/// <c>x += r·ffn(rmsnorm(x))</c> (r = residual multiplier), and its backward.
/// </summary>
internal sealed class Layer
{
    private readonly BambaConfig _c;
    private readonly Parameter? _mixerNorm, _ffNorm;
    private readonly MambaLayerTrainer? _mamba;
    private readonly AttentionLayerTrainer? _attention;
    private readonly FeedForwardTrainer? _ffn;

    public Layer(BambaConfig c, ParameterSet set, int index, Rope rope, LoraSet? lora)
    {
        _c = c;
        var spec = c.Layers[index];
        if (spec.Mixer != MixerKind.None) _mixerNorm = set[TensorRole.MixerNorm, index];
        if (spec.Mixer == MixerKind.Attention) _attention = new AttentionLayerTrainer(c, set, index, rope, lora);
        if (spec.Mixer == MixerKind.Mamba) _mamba = new MambaLayerTrainer(c, set, index, lora);
        if (spec.FeedForward == FeedForwardKind.None) return;
        _ffNorm = set[TensorRole.FeedForwardNorm, index];
        _ffn = new FeedForwardTrainer(c, set, index, lora);
    }

    /// <summary>The residual stream before the mixer and before the feed-forward, and the sublayers' own tapes.</summary>
    public sealed record Tape(float[] XIn, float[] XMid, object? Mixer, FeedForwardTrainer.Tape? FeedForward);

    private float Eps => (float)_c.RmsNormEps;
    private float Residual => (float)_c.ResidualMultiplier;

    /// <summary>Updates <paramref name="x"/> in place to the layer's output.</summary>
    public Tape Forward(TrainingBatch batch, float[] x)
    {
        var xIn = (float[])x.Clone();
        var delta = new float[x.Length];
        object? mixer = null;
        if (_mixerNorm is not null)
        {
            // Each sublayer gets its own normed input: its tape keeps the array.
            var normed = new float[x.Length];
            Norms.RmsNorm(x, _mixerNorm.Value, Eps, normed);
            mixer = _attention is not null ? _attention.Forward(batch, normed, delta) : _mamba!.Forward(batch, normed, delta);
            AddResidual(x, delta);
        }
        var xMid = (float[])x.Clone();
        FeedForwardTrainer.Tape? ffn = null;
        if (_ffn is not null)
        {
            var normed = new float[x.Length];
            Norms.RmsNorm(x, _ffNorm!.Value, Eps, normed);
            ffn = _ffn.Forward(batch.Rows, normed, delta);
            AddResidual(x, delta);
        }
        return new Tape(xIn, xMid, mixer, ffn);
    }

    private void AddResidual(float[] x, float[] delta)
    {
        if (Residual == 1f) TensorPrimitives.Add(x, delta, x);
        else TensorPrimitives.MultiplyAdd(delta, Residual, x, x);
    }

    /// <summary>Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input.</summary>
    public void Backward(TrainingBatch batch, Tape tape, float[] dx)
    {
        if (tape.FeedForward is { } ffn)
        {
            var dNormed2 = _ffn!.Backward(batch.Rows, ffn, Scaled(dx));
            NormsBackward.RmsNorm(tape.XMid, _ffNorm!.Value, Eps, dNormed2, dx, _ffNorm.Grad);
        }
        if (tape.Mixer is null) return;
        var dSub = Scaled(dx);
        var dNormed = _attention is not null
            ? _attention.Backward(batch, (AttentionLayerTrainer.Tape)tape.Mixer, dSub)
            : _mamba!.Backward(batch, (MambaLayerTrainer.Tape)tape.Mixer, dSub);
        NormsBackward.RmsNorm(tape.XIn, _mixerNorm!.Value, Eps, dNormed, dx, _mixerNorm.Grad);
    }

    /// <summary>The gradient a sublayer's output gets through <c>x += r·out</c>.</summary>
    private float[] Scaled(float[] dx)
    {
        if (Residual == 1f) return dx;
        var scaled = new float[dx.Length];
        TensorPrimitives.Multiply(dx, Residual, scaled);
        return scaled;
    }
}

using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// One decoder layer on the GPU, as its plan has it (the CPU twin: Training.Layer): <c>x += r·mixer(rmsnorm(x))</c>
/// and/or <c>x += r·ffn(rmsnorm(x))</c> (r = residual multiplier), and its backward.
/// </summary>
internal sealed class CudaLayerTrainer
{
    private readonly TrainContext _t;
    private readonly int _index;
    private readonly Parameter? _mixerNorm, _ffNorm;
    private readonly CudaMambaLayerTrainer? _mamba;
    private readonly CudaAttentionLayerTrainer? _attention;
    private readonly CudaFeedForwardTrainer? _ffn;

    public CudaLayerTrainer(TrainContext t, int index, ulong invFreq, ulong negInvFreq)
    {
        _t = t;
        _index = index;
        var spec = t.Config.Layers[index];
        if (spec.Mixer != MixerKind.None) _mixerNorm = t.Set[TensorRole.MixerNorm, index];
        if (spec.Mixer == MixerKind.Attention) _attention = new CudaAttentionLayerTrainer(t, index, invFreq, negInvFreq);
        if (spec.Mixer == MixerKind.Mamba) _mamba = new CudaMambaLayerTrainer(t, index);
        if (spec.FeedForward == FeedForwardKind.None) return;
        _ffNorm = t.Set[TensorRole.FeedForwardNorm, index];
        _ffn = new CudaFeedForwardTrainer(t, index);
    }

    /// <summary>The residual stream before the mixer and before the feed-forward (0 where there is none), and the sublayers' own tapes.</summary>
    public sealed record Tape(ulong XIn, ulong XMid, object? Mixer, CudaFeedForwardTrainer.Tape? FeedForward);

    private float Residual => (float)_t.Config.ResidualMultiplier;

    /// <summary>Updates <paramref name="x"/> [rows, hidden] in place to the layer's output.</summary>
    public Tape Forward(CudaBatch batch, ulong x)
    {
        int rows = batch.Rows, h = _t.Config.HiddenSize;
        long n = (long)rows * h;
        string p = $"L{_index}.";
        ulong delta = _t.Buffer("fwd.delta", n), xIn = 0, xMid = 0;
        object? mixer = null;
        if (_mixerNorm is not null)
        {
            xIn = Keep(p + "xin", x, n);
            ulong normed = _t.Buffer(p + "normed", n);
            _t.Kernels.RmsNorm(x, _t.Parameters.Value(_mixerNorm), normed, rows, h, _t.Eps);
            mixer = _attention is not null ? _attention.Forward(batch, normed, delta) : _mamba!.Forward(batch, normed, delta);
            _t.Kernels.AddResidual(x, delta, n, Residual);
        }
        CudaFeedForwardTrainer.Tape? ffn = null;
        if (_ffn is not null)
        {
            xMid = Keep(p + "xmid", x, n);
            ulong normed = _t.Buffer(p + "normed2", n);
            _t.Kernels.RmsNorm(x, _t.Parameters.Value(_ffNorm!), normed, rows, h, _t.Eps);
            ffn = _ffn.Forward(rows, normed, delta);
            _t.Kernels.AddResidual(x, delta, n, Residual);
        }
        return new Tape(xIn, xMid, mixer, ffn);
    }

    private ulong Keep(string name, ulong x, long n)
    {
        ulong copy = _t.Buffer(name, n);
        _t.Kernels.Device.CopyDevice(copy, x, 4 * n);
        return copy;
    }

    /// <summary>Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input, in place.</summary>
    public void Backward(CudaBatch batch, Tape tape, ulong dx)
    {
        int rows = batch.Rows, h = _t.Config.HiddenSize;
        if (tape.FeedForward is { } ffn)
        {
            ulong dNormed2 = _ffn!.Backward(rows, ffn, Scaled(dx, rows * (long)h));
            _t.RmsNormBackward(tape.XMid, _ffNorm!, dNormed2, dx, rows, h);
        }
        if (tape.Mixer is null) return;
        var dSub = Scaled(dx, rows * (long)h);
        ulong dNormed = _attention is not null
            ? _attention.Backward(batch, (CudaAttentionLayerTrainer.Tape)tape.Mixer, dSub)
            : _mamba!.Backward(batch, (CudaMambaLayerTrainer.Tape)tape.Mixer, dSub);
        _t.RmsNormBackward(tape.XIn, _mixerNorm!, dNormed, dx, rows, h);
    }

    /// <summary>The gradient a sublayer's output gets through <c>x += r·out</c>: dx itself when r = 1, else r·dx in a work buffer.</summary>
    private ulong Scaled(ulong dx, long n)
    {
        if (Residual == 1f) return dx;
        ulong scaled = Keep("bwd.layer.dsub", dx, n);
        _t.Ops.Scale(scaled, n, Residual);
        return scaled;
    }
}

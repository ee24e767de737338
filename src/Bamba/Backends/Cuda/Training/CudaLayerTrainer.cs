namespace Bamba.Backends.Cuda.Training;

/// <summary>One decoder layer on the GPU: <c>x += mixer(rmsnorm(x)); x += mlp(rmsnorm(x))</c> (the CPU twin: Training.Layer).</summary>
internal sealed class CudaLayerTrainer
{
    private readonly TrainContext _t;
    private readonly int _index;
    private readonly string _inputNorm, _ffNorm;
    private readonly CudaMambaLayerTrainer? _mamba;
    private readonly CudaAttentionLayerTrainer? _attention;
    private readonly CudaMlpTrainer _mlp;

    public CudaLayerTrainer(TrainContext t, int index, ulong invFreq, ulong negInvFreq)
    {
        _t = t;
        _index = index;
        _inputNorm = $"model.layers.{index}.input_layernorm.weight";
        _ffNorm = $"model.layers.{index}.pre_ff_layernorm.weight";
        if (t.Config.IsAttentionLayer(index)) _attention = new CudaAttentionLayerTrainer(t, index, invFreq, negInvFreq);
        else _mamba = new CudaMambaLayerTrainer(t, index);
        _mlp = new CudaMlpTrainer(t, index);
    }

    /// <summary>The residual stream before the mixer and before the MLP, and the sublayers' own tapes.</summary>
    public sealed record Tape(ulong XIn, ulong XMid, object Mixer, CudaMlpTrainer.Tape Mlp);

    /// <summary>Updates <paramref name="x"/> [rows, hidden] in place to the layer's output.</summary>
    public Tape Forward(CudaBatch batch, ulong x)
    {
        int rows = batch.Rows, h = _t.Config.HiddenSize;
        long n = (long)rows * h;
        string p = $"L{_index}.";
        ulong xIn = _t.Buffer(p + "xin", n), xMid = _t.Buffer(p + "xmid", n);
        ulong normed = _t.Buffer(p + "normed", n), normed2 = _t.Buffer(p + "normed2", n), delta = _t.Buffer("fwd.delta", n);
        var device = _t.Kernels.Device;
        device.CopyDevice(xIn, x, 4 * n);
        _t.Kernels.RmsNorm(x, _t.Parameters.Value(_inputNorm), normed, rows, h, _t.Eps);
        object mixer = _attention is not null ? _attention.Forward(batch, normed, delta) : _mamba!.Forward(batch, normed, delta);
        _t.Kernels.AddResidual(x, delta, n);
        device.CopyDevice(xMid, x, 4 * n);
        _t.Kernels.RmsNorm(x, _t.Parameters.Value(_ffNorm), normed2, rows, h, _t.Eps);
        var mlp = _mlp.Forward(rows, normed2, delta);
        _t.Kernels.AddResidual(x, delta, n);
        return new Tape(xIn, xMid, mixer, mlp);
    }

    /// <summary>Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input, in place.</summary>
    public void Backward(CudaBatch batch, Tape tape, ulong dx)
    {
        int rows = batch.Rows, h = _t.Config.HiddenSize;
        ulong dNormed2 = _mlp.Backward(rows, tape.Mlp, dx);
        _t.RmsNormBackward(tape.XMid, _ffNorm, dNormed2, dx, rows, h);
        ulong dNormed = _attention is not null
            ? _attention.Backward(batch, (CudaAttentionLayerTrainer.Tape)tape.Mixer, dx)
            : _mamba!.Backward(batch, (CudaMambaLayerTrainer.Tape)tape.Mixer, dx);
        _t.RmsNormBackward(tape.XIn, _inputNorm, dNormed, dx, rows, h);
    }
}

using Bamba.Architectures;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Grouped-query attention on the GPU (the CPU twin: Training.AttentionLayerTrainer) with partial RoPE, or none (NoPE),
/// and the config's scale: each packed sequence attends only to itself, positions from 0. RoPE's transpose (rotation
/// by −angle) is RoPE with negated frequencies.
/// </summary>
internal sealed class CudaAttentionLayerTrainer(TrainContext t, int layer, ulong invFreq, ulong negInvFreq) : ISublayer<CudaBatch, ulong>
{
    private ParameterSlice Q => t.Weight(TensorRole.AttentionQ, layer);
    private ParameterSlice K => t.Weight(TensorRole.AttentionK, layer);
    private ParameterSlice V => t.Weight(TensorRole.AttentionV, layer);
    private ParameterSlice O => t.Weight(TensorRole.AttentionO, layer);
    private Configuration.BambaConfig C => t.Config;
    private CudaTrainOps.AttentionShape Shape => new(C.NumAttentionHeads, C.NumKeyValueHeads, C.HeadDim, C.AttentionScale is double s ? (float)s : null);

    public sealed record Tape(ulong Input, ulong Q, ulong K, ulong V, ulong Attended, ulong Lse);

    object ISublayer<CudaBatch, ulong>.Forward(CudaBatch batch, ulong input, ulong output) => Forward(batch, input, output);
    ulong ISublayer<CudaBatch, ulong>.Backward(CudaBatch batch, object tape, ulong dOutput) => Backward(batch, (Tape)tape, dOutput);

    public Tape Forward(CudaBatch batch, ulong input, ulong output)
    {
        int rows = batch.Rows, h = C.HiddenSize, qw = C.NumAttentionHeads * C.HeadDim, kw = C.NumKeyValueHeads * C.HeadDim;
        string p = t.TapeName(layer, "attn.");
        var tape = new Tape(input, t.Buffer(p + "q", (long)rows * qw), t.Buffer(p + "k", (long)rows * kw), t.Buffer(p + "v", (long)rows * kw),
            t.Buffer(p + "attended", (long)rows * qw), t.Buffer(p + "lse", (long)rows * C.NumAttentionHeads));
        t.Gemm.Forward(input, Q, tape.Q, rows, qw, h);
        t.Gemm.Forward(input, K, tape.K, rows, kw, h);
        t.Gemm.Forward(input, V, tape.V, rows, kw, h);
        Rotate(batch, tape.Q, tape.K, invFreq);
        t.Ops.AttentionForward(Shape, tape.Q, tape.K, tape.V, batch.Positions, tape.Attended, tape.Lse, rows);
        t.Gemm.Forward(tape.Attended, O, output, rows, h, qw);
        return tape;
    }

    public ulong Backward(CudaBatch batch, Tape tape, ulong dOutput)
    {
        int rows = batch.Rows, h = C.HiddenSize, qw = C.NumAttentionHeads * C.HeadDim, kw = C.NumKeyValueHeads * C.HeadDim;
        t.Gemm.WeightGrad(dOutput, tape.Attended, O, rows, h, qw);
        ulong dAttended = t.Buffer("bwd.attn.dattended", (long)rows * qw);
        t.Gemm.InputGrad(dOutput, O, dAttended, rows, h, qw, accumulate: false);
        ulong dq = t.Buffer("bwd.attn.dq", (long)rows * qw), dk = t.Buffer("bwd.attn.dk", (long)rows * kw), dv = t.Buffer("bwd.attn.dv", (long)rows * kw);
        t.Ops.AttentionBackward(Shape, tape.Q, tape.K, tape.V, dAttended, batch.Positions, tape.Lse, t.Buffer("bwd.attn.delta", (long)rows * C.NumAttentionHeads),
            dq, dk, dv, rows);
        Rotate(batch, dq, dk, negInvFreq);
        t.Gemm.WeightGrad(dq, tape.Input, Q, rows, qw, h);
        t.Gemm.WeightGrad(dk, tape.Input, K, rows, kw, h);
        t.Gemm.WeightGrad(dv, tape.Input, V, rows, kw, h);
        ulong dInput = t.Buffer("bwd.mixer.dinput", (long)rows * h);
        t.Gemm.InputGrad(dq, Q, dInput, rows, qw, h, accumulate: false);
        t.Gemm.InputGrad(dk, K, dInput, rows, kw, h, accumulate: true);
        t.Gemm.InputGrad(dv, V, dInput, rows, kw, h, accumulate: true);
        return dInput;
    }

    private void Rotate(CudaBatch batch, ulong q, ulong k, ulong frequencies)
    {
        if (!C.UseRope) return;
        t.Kernels.Rope(q, C.NumAttentionHeads * C.HeadDim, batch.Positions, frequencies, batch.Rows, C.NumAttentionHeads, C.HeadDim, C.RotaryDim);
        t.Kernels.Rope(k, C.NumKeyValueHeads * C.HeadDim, batch.Positions, frequencies, batch.Rows, C.NumKeyValueHeads, C.HeadDim, C.RotaryDim);
    }
}

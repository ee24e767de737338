namespace Bamba.Backends.Cuda.Training;

/// <summary>The SwiGLU feed-forward on the GPU (the CPU twin: Training.MlpTrainer).</summary>
internal sealed class CudaMlpTrainer(TrainContext t, int layer)
{
    private readonly string _gate = $"model.layers.{layer}.feed_forward.gate_proj.weight";
    private readonly string _up = $"model.layers.{layer}.feed_forward.up_proj.weight";
    private readonly string _down = $"model.layers.{layer}.feed_forward.down_proj.weight";

    public sealed record Tape(ulong Input, ulong Gate, ulong Up, ulong Hidden);

    public Tape Forward(int rows, ulong input, ulong output)
    {
        int h = t.Config.HiddenSize, inter = t.Config.IntermediateSize;
        long n = (long)rows * inter;
        var tape = new Tape(input, t.Buffer($"L{layer}.mlp.gate", n), t.Buffer($"L{layer}.mlp.up", n), t.Buffer($"L{layer}.mlp.hidden", n));
        t.Gemm.Forward(input, _gate, tape.Gate, rows, inter, h);
        t.Gemm.Forward(input, _up, tape.Up, rows, inter, h);
        t.Ops.SwiGlu(tape.Gate, tape.Up, tape.Hidden, n);
        t.Gemm.Forward(tape.Hidden, _down, output, rows, h, inter);
        return tape;
    }

    /// <summary>Accumulates the weight gradients; returns the gradient of the input (a buffer valid until the next layer's backward).</summary>
    public ulong Backward(int rows, Tape tape, ulong dOutput)
    {
        int h = t.Config.HiddenSize, inter = t.Config.IntermediateSize;
        long n = (long)rows * inter;
        t.Gemm.WeightGrad(dOutput, tape.Hidden, _down, rows, h, inter);
        ulong dHidden = t.Buffer("bwd.mlp.dhidden", n), dGate = t.Buffer("bwd.mlp.dgate", n), dUp = t.Buffer("bwd.mlp.dup", n);
        t.Gemm.InputGrad(dOutput, _down, dHidden, rows, h, inter, accumulate: false);
        t.Ops.SwiGluBackward(dHidden, tape.Gate, tape.Up, dGate, dUp, n);
        t.Gemm.WeightGrad(dGate, tape.Input, _gate, rows, inter, h);
        t.Gemm.WeightGrad(dUp, tape.Input, _up, rows, inter, h);
        ulong dInput = t.Buffer("bwd.mlp.dinput", (long)rows * h);
        t.Gemm.InputGrad(dGate, _gate, dInput, rows, inter, h, accumulate: false);
        t.Gemm.InputGrad(dUp, _up, dInput, rows, inter, h, accumulate: true);
        return dInput;
    }
}

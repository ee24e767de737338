using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// One MLP on the GPU (the CPU twin: Training.MlpTrainer): SwiGLU <c>down(silu(gate·x) ⊙ up·x)</c>, or squared ReLU
/// <c>down(relu(up·x)²)</c> when it has no gate. Its matrices may be parts of larger parameters (fused gate|up, stacked
/// experts); its width is read from them. <paramref name="name"/> keeps its tape buffers apart from every other MLP's.
/// </summary>
internal sealed class CudaMlpTrainer(TrainContext t, string name, ParameterSlice? gate, ParameterSlice up, ParameterSlice down)
{
    private int Hidden => t.Config.HiddenSize;
    private int Inter => up.Length / Hidden;

    public sealed record Tape(ulong Input, ulong Gate, ulong Up, ulong Hidden);

    public Tape Forward(int rows, ulong input, ulong output)
    {
        int h = Hidden, inter = Inter;
        long n = (long)rows * inter;
        var tape = new Tape(input, gate is null ? 0UL : t.Buffer(name + "gate", n), t.Buffer(name + "up", n), t.Buffer(name + "hidden", n));
        if (gate is { } g) t.Gemm.Forward(input, g, tape.Gate, rows, inter, h);
        t.Gemm.Forward(input, up, tape.Up, rows, inter, h);
        if (gate is null) t.Ops.SquaredRelu(tape.Up, tape.Hidden, n);
        else t.Ops.SwiGlu(tape.Gate, tape.Up, tape.Hidden, n);
        t.Gemm.Forward(tape.Hidden, down, output, rows, h, inter);
        return tape;
    }

    /// <summary>Accumulates the weight gradients; returns the gradient of the input (a buffer valid until the next MLP's backward).</summary>
    public ulong Backward(int rows, Tape tape, ulong dOutput)
    {
        int h = Hidden, inter = Inter;
        long n = (long)rows * inter;
        t.Gemm.WeightGrad(dOutput, tape.Hidden, down, rows, h, inter);
        ulong dHidden = t.Buffer("bwd.mlp.dhidden", n), dUp = t.Buffer("bwd.mlp.dup", n);
        t.Gemm.InputGrad(dOutput, down, dHidden, rows, h, inter, accumulate: false);
        ulong dInput = t.Buffer("bwd.mlp.dinput", (long)rows * h);
        if (gate is { } g)
        {
            ulong dGate = t.Buffer("bwd.mlp.dgate", n);
            t.Ops.SwiGluBackward(dHidden, tape.Gate, tape.Up, dGate, dUp, n);
            t.Gemm.WeightGrad(dGate, tape.Input, g, rows, inter, h);
            t.Gemm.InputGrad(dGate, g, dInput, rows, inter, h, accumulate: false);
        }
        else t.Ops.SquaredReluBackward(dHidden, tape.Up, dUp, n);
        t.Gemm.WeightGrad(dUp, tape.Input, up, rows, inter, h);
        t.Gemm.InputGrad(dUp, up, dInput, rows, inter, h, accumulate: gate is not null);
        return dInput;
    }
}

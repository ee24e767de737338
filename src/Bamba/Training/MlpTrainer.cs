using Bamba.Backends.Cpu;

namespace Bamba.Training;

/// <summary>
/// One MLP for training, and its backward: SwiGLU <c>down(silu(gate·x) ⊙ up·x)</c>, or squared ReLU
/// <c>down(relu(up·x)²)</c> when it has no gate. Its matrices may be parts of larger parameters (fused gate|up,
/// stacked experts).
/// </summary>
internal sealed class MlpTrainer(ParameterSlice? gate, ParameterSlice up, ParameterSlice down, int hidden)
{
    private readonly int _inter = up.Length / hidden;

    public sealed record Tape(float[] Input, float[] Gate, float[] Up, float[] Hidden);

    public Tape Forward(int rows, float[] input, float[] output)
    {
        int h = hidden, inter = _inter;
        var up1 = new float[rows * inter];
        var gated = new float[gate is null ? 0 : rows * inter];
        if (gate is { } g) DenseMatrix.Forward(input, rows, g.Value, inter, h, [], gated);
        DenseMatrix.Forward(input, rows, up.Value, inter, h, [], up1);
        float[] act;
        if (gate is null)
        {
            act = (float[])up1.Clone();
            Activations.SquaredReluInPlace(act);
        }
        else
        {
            act = (float[])gated.Clone();
            Activations.SwiGlu(act, up1);
        }
        DenseMatrix.Forward(act, rows, down.Value, h, inter, [], output);
        return new Tape(input, gated, up1, act);
    }

    public float[] Backward(int rows, Tape tape, float[] dOutput)
    {
        int h = hidden, inter = _inter;
        DenseMatrix.AccumulateWeightGrad(dOutput, tape.Hidden, rows, h, inter, down.Grad);
        var dHidden = new float[rows * inter];
        DenseMatrix.InputGrad(dOutput, rows, down.Value, h, inter, dHidden, accumulate: false);
        var dUp = new float[rows * inter];
        var dInput = new float[rows * h];
        if (gate is { } g)
        {
            var dGate = new float[rows * inter];
            for (int i = 0; i < dHidden.Length; i++)
            {
                dGate[i] = dHidden[i] * tape.Up[i] * Activations.SiluDerivative(tape.Gate[i]);
                dUp[i] = dHidden[i] * Activations.Silu(tape.Gate[i]);
            }
            DenseMatrix.AccumulateWeightGrad(dGate, tape.Input, rows, inter, h, g.Grad);
            DenseMatrix.InputGrad(dGate, rows, g.Value, inter, h, dInput, accumulate: false);
        }
        else
        {
            // d relu(u)²/du = 2·relu(u)
            for (int i = 0; i < dHidden.Length; i++) dUp[i] = tape.Up[i] > 0f ? 2f * tape.Up[i] * dHidden[i] : 0f;
        }
        DenseMatrix.AccumulateWeightGrad(dUp, tape.Input, rows, inter, h, up.Grad);
        DenseMatrix.InputGrad(dUp, rows, up.Value, inter, h, dInput, accumulate: gate is not null);
        return dInput;
    }
}

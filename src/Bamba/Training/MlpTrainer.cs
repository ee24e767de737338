using Bamba.Backends.Cpu;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// One MLP for training, and its backward: SwiGLU <c>down(silu(gate·x) ⊙ up·x)</c>, or squared ReLU
/// <c>down(relu(up·x)²)</c> when it has no gate. Its matrices may be parts of larger parameters (fused gate|up,
/// stacked experts), and each may have a LoRA path beside it.
/// </summary>
internal sealed class MlpTrainer(ParameterSlice? gate, ParameterSlice up, ParameterSlice down, int hidden, LoraSet? lora = null)
{
    private readonly int _inter = up.Length / hidden;
    private readonly LoraPath? _gateLora = gate is { } g ? lora?.PathFor(g) : null;
    private readonly LoraPath? _upLora = lora?.PathFor(up), _downLora = lora?.PathFor(down);

    public sealed record Tape(float[] Input, float[] Gate, float[] Up, float[] Hidden, LoraPath.Tape? GateLora, LoraPath.Tape? UpLora, LoraPath.Tape? DownLora);

    public Tape Forward(int rows, float[] input, float[] output)
    {
        int h = hidden, inter = _inter;
        var up1 = new float[rows * inter];
        var gated = new float[gate is null ? 0 : rows * inter];
        if (gate is { } g) DenseMatrix.Forward(input, rows, g.Value, inter, h, [], gated);
        var gateLora = _gateLora?.AddForward(input, rows, gated);
        DenseMatrix.Forward(input, rows, up.Value, inter, h, [], up1);
        var upLora = _upLora?.AddForward(input, rows, up1);
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
        var downLora = _downLora?.AddForward(act, rows, output);
        return new Tape(input, gated, up1, act, gateLora, upLora, downLora);
    }

    public float[] Backward(int rows, Tape tape, float[] dOutput)
    {
        int h = hidden, inter = _inter;
        WeightGrad.Accumulate(down, dOutput, tape.Hidden, rows, h, inter);
        var dHidden = new float[rows * inter];
        DenseMatrix.InputGrad(dOutput, rows, down.Value, h, inter, dHidden, accumulate: false);
        _downLora?.Backward(tape.DownLora!, dOutput, rows, dHidden);
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
            WeightGrad.Accumulate(g, dGate, tape.Input, rows, inter, h);
            DenseMatrix.InputGrad(dGate, rows, g.Value, inter, h, dInput, accumulate: false);
            _gateLora?.Backward(tape.GateLora!, dGate, rows, dInput);
        }
        else
        {
            // d relu(u)²/du = 2·relu(u)
            for (int i = 0; i < dHidden.Length; i++) dUp[i] = tape.Up[i] > 0f ? 2f * tape.Up[i] * dHidden[i] : 0f;
        }
        WeightGrad.Accumulate(up, dUp, tape.Input, rows, inter, h);
        DenseMatrix.InputGrad(dUp, rows, up.Value, inter, h, dInput, accumulate: gate is not null);
        _upLora?.Backward(tape.UpLora!, dUp, rows, dInput);
        return dInput;
    }
}

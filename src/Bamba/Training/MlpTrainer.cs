using Bamba.Backends.Cpu;
using Bamba.Configuration;

namespace Bamba.Training;

/// <summary>The SwiGLU feed-forward <c>down(silu(gate(x)) · up(x))</c> for training, and its backward.</summary>
internal sealed class MlpTrainer(BambaConfig c, ParameterSet set, int layer)
{
    private readonly Parameter _gate = set[$"model.layers.{layer}.feed_forward.gate_proj.weight"];
    private readonly Parameter _up = set[$"model.layers.{layer}.feed_forward.up_proj.weight"];
    private readonly Parameter _down = set[$"model.layers.{layer}.feed_forward.down_proj.weight"];

    public sealed record Tape(float[] Input, float[] Gate, float[] Up, float[] Hidden);

    public Tape Forward(int rows, float[] input, float[] output)
    {
        int h = c.HiddenSize, inter = c.IntermediateSize;
        var (gate, up) = (new float[rows * inter], new float[rows * inter]);
        DenseMatrix.Forward(input, rows, _gate.Value, inter, h, [], gate);
        DenseMatrix.Forward(input, rows, _up.Value, inter, h, [], up);
        var hidden = (float[])gate.Clone();
        Activations.SwiGlu(hidden, up);
        DenseMatrix.Forward(hidden, rows, _down.Value, h, inter, [], output);
        return new Tape(input, gate, up, hidden);
    }

    public float[] Backward(int rows, Tape tape, float[] dOutput)
    {
        int h = c.HiddenSize, inter = c.IntermediateSize;
        DenseMatrix.AccumulateWeightGrad(dOutput, tape.Hidden, rows, h, inter, _down.Grad);
        var dHidden = new float[rows * inter];
        DenseMatrix.InputGrad(dOutput, rows, _down.Value, h, inter, dHidden, accumulate: false);
        var (dGate, dUp) = (new float[rows * inter], new float[rows * inter]);
        for (int i = 0; i < dHidden.Length; i++)
        {
            dGate[i] = dHidden[i] * tape.Up[i] * Activations.SiluDerivative(tape.Gate[i]);
            dUp[i] = dHidden[i] * Activations.Silu(tape.Gate[i]);
        }
        DenseMatrix.AccumulateWeightGrad(dGate, tape.Input, rows, inter, h, _gate.Grad);
        DenseMatrix.AccumulateWeightGrad(dUp, tape.Input, rows, inter, h, _up.Grad);
        var dInput = new float[rows * h];
        DenseMatrix.InputGrad(dGate, rows, _gate.Value, inter, h, dInput, accumulate: false);
        DenseMatrix.InputGrad(dUp, rows, _up.Value, inter, h, dInput, accumulate: true);
        return dInput;
    }
}

using System.Numerics.Tensors;
using Bamba.Backends.Cpu;

namespace Bamba.Training.Lora;

/// <summary>
/// The low-rank path beside one base matrix, or beside a block of its rows (the gate or up half of a fused gate|up
/// matrix): <c>y += s·(drop(x)·Aᵀ)·B[rows]ᵀ</c>, and its backward into A, B and the input's gradient. What the
/// backward needs goes into the layer's tape (<see cref="Tape"/>), so that it lives exactly as long as the tape does
/// (one layer's at a time when the trainer recomputes activations).
/// </summary>
internal sealed class LoraPath(LoraSet set, LoraAdapter adapter, int rowOffset, int outRows)
{
    /// <summary>One forward's dropped input (the input itself without dropout) and low-rank activation.</summary>
    public sealed record Tape(float[] Input, float[] Low);

    private int In => adapter.A.Columns;
    private int Rank => adapter.Rank;
    private Span<float> BValue => adapter.B.Value.AsSpan(rowOffset * Rank, outRows * Rank);
    private Span<float> BGrad => adapter.B.Grad.AsSpan(rowOffset * Rank, outRows * Rank);

    /// <summary>Adds the path's output to <paramref name="output"/> [rows, outRows]; returns what its backward needs.</summary>
    public Tape AddForward(float[] input, int rows, Span<float> output)
    {
        var tape = new Tape(set.Dropout(adapter, input), new float[rows * Rank]);
        DenseMatrix.Forward(tape.Input, rows, adapter.A.Value, Rank, In, [], tape.Low);
        var update = new float[rows * outRows];
        DenseMatrix.Forward(tape.Low, rows, BValue, outRows, Rank, [], update);
        TensorPrimitives.MultiplyAdd(update, set.Settings.Scale, output, output);
        return tape;
    }

    /// <summary>Accumulates A's and B's gradients and adds the path's share of the input's gradient to <paramref name="dInput"/>.</summary>
    public void Backward(Tape tape, ReadOnlySpan<float> dOutput, int rows, Span<float> dInput)
    {
        var dScaled = new float[rows * outRows];
        TensorPrimitives.Multiply(dOutput, set.Settings.Scale, dScaled);
        DenseMatrix.AccumulateWeightGrad(dScaled, tape.Low, rows, outRows, Rank, BGrad);
        var dLow = new float[rows * Rank];
        DenseMatrix.InputGrad(dScaled, rows, BValue, outRows, Rank, dLow, accumulate: false);
        DenseMatrix.AccumulateWeightGrad(dLow, tape.Input, rows, Rank, In, adapter.A.Grad);
        var dDropped = new float[rows * In];
        DenseMatrix.InputGrad(dLow, rows, adapter.A.Value, Rank, In, dDropped, accumulate: false);
        set.DropoutBackward(adapter, dDropped);
        TensorPrimitives.Add(dInput, dDropped, dInput);
    }
}

/// <summary>A weight's gradient, left alone when the weight is frozen (the base of a LoRA run).</summary>
internal static class WeightGrad
{
    public static void Accumulate(ParameterSlice w, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int n, int m, int k)
    {
        if (!w.Parameter.Frozen) DenseMatrix.AccumulateWeightGrad(dy, x, n, m, k, w.Grad);
    }

    public static void Accumulate(Parameter w, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int n, int m, int k) =>
        Accumulate(w.Whole, dy, x, n, m, k);
}

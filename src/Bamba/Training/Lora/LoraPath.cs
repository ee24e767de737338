using System.Numerics.Tensors;
using Bamba.Backends.Cpu;

namespace Bamba.Training.Lora;

/// <summary>
/// The low-rank path beside one base matrix, or beside a block of its rows (the gate or up half of a fused gate|up
/// matrix): <c>y += s·(drop(x)·Aᵀ)·B[rows]ᵀ</c>, and its backward into A, B and the input's gradient. The model runs
/// one forward and then its backward, so the path keeps the last forward's dropped input and low-rank activation
/// itself rather than in the layer tapes.
/// </summary>
internal sealed class LoraPath(LoraSet set, LoraAdapter adapter, int rowOffset, int outRows)
{
    private float[] _input = [], _low = [];

    private int In => adapter.A.Columns;
    private int Rank => adapter.Rank;
    private Span<float> BValue => adapter.B.Value.AsSpan(rowOffset * Rank, outRows * Rank);
    private Span<float> BGrad => adapter.B.Grad.AsSpan(rowOffset * Rank, outRows * Rank);

    /// <summary>Adds the path's output to <paramref name="output"/> [rows, outRows].</summary>
    public void AddForward(float[] input, int rows, Span<float> output)
    {
        _input = set.Dropout(adapter, input);
        _low = new float[rows * Rank];
        DenseMatrix.Forward(_input, rows, adapter.A.Value, Rank, In, [], _low);
        var update = new float[rows * outRows];
        DenseMatrix.Forward(_low, rows, BValue, outRows, Rank, [], update);
        TensorPrimitives.MultiplyAdd(update, set.Settings.Scale, output, output);
    }

    /// <summary>Accumulates A's and B's gradients and adds the path's share of the input's gradient to <paramref name="dInput"/>.</summary>
    public void Backward(ReadOnlySpan<float> dOutput, int rows, Span<float> dInput)
    {
        var dScaled = new float[rows * outRows];
        TensorPrimitives.Multiply(dOutput, set.Settings.Scale, dScaled);
        DenseMatrix.AccumulateWeightGrad(dScaled, _low, rows, outRows, Rank, BGrad);
        var dLow = new float[rows * Rank];
        DenseMatrix.InputGrad(dScaled, rows, BValue, outRows, Rank, dLow, accumulate: false);
        DenseMatrix.AccumulateWeightGrad(dLow, _input, rows, Rank, In, adapter.A.Grad);
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

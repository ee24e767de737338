using System.Numerics.Tensors;
using Bamba.Backends.Cpu;

namespace Bamba.Modeling;

/// <summary>
/// A LoRA adapter applied unmerged beside one stored matrix, or beside a block of its rows (the gate or up half of a
/// fused gate|up matrix): <c>y += s·(x·Aᵀ)·Bᵀ</c> with A [r, in] and B [out, r] in float32, s = alpha/r. The base
/// matrix stays as stored; the extra cost is two thin products. A, B and s are public so that a device backend can
/// upload them.
/// </summary>
public sealed class LowRankDelta(float[] a, float[] b, int rank, int inputs, int outputs, float scale)
{
    public int Rank => rank;
    public int Inputs => inputs;
    public int Outputs => outputs;
    public float Scale => scale;
    /// <summary>A [Rank, Inputs], row-major.</summary>
    public ReadOnlyMemory<float> A => a;
    /// <summary>B [Outputs, Rank], row-major.</summary>
    public ReadOnlyMemory<float> B => b;

    public void Add(ReadOnlySpan<float> x, int rows, Span<float> y)
    {
        var low = new float[rows * rank];
        DenseMatrix.Forward(x[..(rows * inputs)], rows, a, rank, inputs, [], low);
        var update = new float[rows * outputs];
        DenseMatrix.Forward(low, rows, b, outputs, rank, [], update);
        var target = y[..(rows * outputs)];
        TensorPrimitives.MultiplyAdd(update, scale, target, target);
    }

    /// <summary>The delta of output rows [first, first + count) (B's rows; A is shared).</summary>
    public LowRankDelta Rows(int first, int count) => new(a, b.AsSpan(first * rank, count * rank).ToArray(), rank, inputs, count, scale);
}

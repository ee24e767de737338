using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = Σ_k x[n, k] · W[m, k] (+ bias[m])</c> with W in its stored dtype (the nn.Linear layout).
/// Work is split over blocks of output rows, so each weight row is read from memory once per call whatever n is;
/// that makes one-token decode a single pass over the weights.
/// </summary>
public static unsafe class Linear
{
    private const int RowsPerTask = 16;
    /// <summary>Up to this many input rows, bf16 weights are widened in registers per dot; above it, once per row into a buffer.</summary>
    private const int FusedRowsLimit = 4;

    public static void Forward(ReadOnlySpan<float> x, int n, WeightTensor w, ReadOnlySpan<float> bias, Span<float> y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        if (x.Length < n * k || y.Length < n * m) throw new ArgumentException("Linear: buffer sizes do not match the weight");
        fixed (float* xp = x, yp = y, bp = bias)
        {
            float* xq = xp, yq = yp, bq = bias.IsEmpty ? null : bp;
            byte* wq = w.Data;
            DType dtype = w.DType;
            int tasks = (m + RowsPerTask - 1) / RowsPerTask;
            Parallel.For(0, tasks, () => new float[k], (task, _, row) =>
            {
                int r0 = task * RowsPerTask, r1 = Math.Min(m, r0 + RowsPerTask);
                for (int r = r0; r < r1; r++)
                {
                    float b = bq is null ? 0f : bq[r];
                    if (dtype == DType.BF16 && n <= FusedRowsLimit)
                    {
                        ushort* wr16 = (ushort*)wq + (long)r * k;
                        for (int i = 0; i < n; i++) yq[(long)i * m + r] = BFloat16Dot.Dot(wr16, xq + (long)i * k, k) + b;
                        continue;
                    }
                    var wr = WeightRow(wq, dtype, r, k, row);
                    for (int i = 0; i < n; i++)
                        yq[(long)i * m + r] = TensorPrimitives.Dot(wr, new ReadOnlySpan<float>(xq + (long)i * k, k)) + b;
                }
                return row;
            }, _ => { });
        }
    }

    /// <summary>Row r of the weight as float32: a view for F32, a conversion into <paramref name="buffer"/> otherwise.</summary>
    private static ReadOnlySpan<float> WeightRow(byte* data, DType dtype, int r, int k, float[] buffer)
    {
        long offset = (long)r * k;
        switch (dtype)
        {
            case DType.F32:
                return new ReadOnlySpan<float>((float*)data + offset, k);
            case DType.BF16:
                BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)data + offset, k), buffer);
                return buffer;
            default:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)data + offset, k), buffer);
                return buffer;
        }
    }
}

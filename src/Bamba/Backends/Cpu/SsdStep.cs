using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One decode step of the SSM, as the reference's recurrent path computes it:
/// <c>S ← exp(dt·A)·S + dt·x ⊗ B; y = S·C + D·x</c>. Each state row [StateSize] is decayed, updated and read in one
/// pass while it sits in L1, so the state (Heads × HeadDim × StateSize floats per layer) crosses memory once each way;
/// heads run on <see cref="CpuWorkers"/>.
/// </summary>
internal static class SsdStep
{
    /// <param name="xbc">x at column <paramref name="offset"/>, then B, then C (one step of <see cref="SsdScan.Run"/>'s layout).</param>
    public static void Run(SsdScan.Shape shape, float[] xbc, int offset, float[] dt, int dtOffset, float[] a, float[] d,
        float[] state, float[] y, int yOffset) =>
        CpuWorkers.Run(new Work(shape, xbc, offset, dt, dtOffset, a, d, state, y, yOffset));

    private sealed class Work(SsdScan.Shape s, float[] xbc, int offset, float[] dt, int dtOffset, float[] a, float[] d,
        float[] state, float[] y, int yOffset) : ChunkedWork(s.Heads)
    {
        protected override void RunChunk(int h)
        {
            int p = s.HeadDim, n = s.StateSize, g = h / s.HeadsPerGroup;
            float step = dt[dtOffset + h], decay = MathF.Exp(step * a[h]);
            var x = xbc.AsSpan(offset + h * p, p);
            var b = xbc.AsSpan(offset + s.Inner + g * n, n);
            var c = xbc.AsSpan(offset + s.Inner + (s.Groups + g) * n, n);
            var yh = y.AsSpan(yOffset + h * p, p);
            for (int i = 0; i < p; i++)
                yh[i] = UpdateRow(state.AsSpan((h * p + i) * n, n), decay, step * x[i], b, c) + d[h] * x[i];
        }
    }

    /// <summary><c>row ← decay·row + u·B</c>, returning <c>row·C</c>: one fused loop, the decode step runs ~40 000 of them.</summary>
    private static unsafe float UpdateRow(Span<float> row, float decay, float u, ReadOnlySpan<float> b, ReadOnlySpan<float> c)
    {
        if (CpuKernels.Current != CpuInstructionSet.Avx512 || row.Length % 16 != 0)
        {
            TensorPrimitives.Multiply(row, decay, row);
            TensorPrimitives.MultiplyAdd(b, u, row, row);
            return TensorPrimitives.Dot(row, c);
        }
        fixed (float* r = row, bp = b, cp = c)
        {
            var acc = Vector512<float>.Zero;
            var vd = Vector512.Create(decay);
            var vu = Vector512.Create(u);
            for (int j = 0; j < row.Length; j += 16)
            {
                var v = Vector512.FusedMultiplyAdd(Vector512.Load(bp + j), vu, Vector512.Load(r + j) * vd);
                v.Store(r + j);
                acc = Vector512.FusedMultiplyAdd(v, Vector512.Load(cp + j), acc);
            }
            return Vector512.Sum(acc);
        }
    }
}

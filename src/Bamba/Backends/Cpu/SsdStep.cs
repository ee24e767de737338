using System.Numerics.Tensors;

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
            {
                var row = state.AsSpan((h * p + i) * n, n);
                TensorPrimitives.Multiply(row, decay, row);
                TensorPrimitives.MultiplyAdd(b, step * x[i], row, row);
                yh[i] = TensorPrimitives.Dot(row, c) + d[h] * x[i];
            }
        }
    }
}

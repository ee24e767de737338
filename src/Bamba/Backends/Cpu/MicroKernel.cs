using System.Runtime.CompilerServices;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tile of the blocked matrix product: <see cref="Rows"/> input rows × two vectors of weight columns
/// (12 accumulators), <c>c[a, j] += Σ_t x[a, t] · panel[t, j]</c>. Each step loads two panel vectors and broadcasts one
/// value per input row, so every load feeds several FMAs (12 FMAs to 8 loads), where a row-by-row dot product loads
/// both operands for each FMA.
/// </summary>
internal static unsafe class MicroKernel
{
    public const int Rows = 6;

    /// <param name="x">The first input row; rows at <paramref name="xStride"/>. Rows past <paramref name="rows"/> repeat the last one (their sums are never read).</param>
    /// <param name="panel">[steps, 2·Count] packed weight columns.</param>
    /// <param name="c">[Rows, 2·Count] accumulators, read and written.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // full optimisation from the first call: prefill may be the process's only one
    public static void Tile<TL, TV>(float* x, long xStride, int rows, float* panel, int steps, float* c)
        where TL : ILanes<TV> where TV : struct
    {
        int width = TL.Count, stride = 2 * width;
        float* x0 = x, x1 = x + Math.Min(1, rows - 1) * xStride, x2 = x + Math.Min(2, rows - 1) * xStride;
        float* x3 = x + Math.Min(3, rows - 1) * xStride, x4 = x + Math.Min(4, rows - 1) * xStride, x5 = x + Math.Min(5, rows - 1) * xStride;
        TV c00 = TL.Load(c), c01 = TL.Load(c + width), c10 = TL.Load(c + stride), c11 = TL.Load(c + stride + width);
        TV c20 = TL.Load(c + 2 * stride), c21 = TL.Load(c + 2 * stride + width), c30 = TL.Load(c + 3 * stride), c31 = TL.Load(c + 3 * stride + width);
        TV c40 = TL.Load(c + 4 * stride), c41 = TL.Load(c + 4 * stride + width), c50 = TL.Load(c + 5 * stride), c51 = TL.Load(c + 5 * stride + width);
        for (int t = 0; t < steps; t++, panel += stride)
        {
            TV w0 = TL.Load(panel), w1 = TL.Load(panel + width);
            TV b = TL.Broadcast(x0 + t); c00 = TL.Fma(b, w0, c00); c01 = TL.Fma(b, w1, c01);
            b = TL.Broadcast(x1 + t); c10 = TL.Fma(b, w0, c10); c11 = TL.Fma(b, w1, c11);
            b = TL.Broadcast(x2 + t); c20 = TL.Fma(b, w0, c20); c21 = TL.Fma(b, w1, c21);
            b = TL.Broadcast(x3 + t); c30 = TL.Fma(b, w0, c30); c31 = TL.Fma(b, w1, c31);
            b = TL.Broadcast(x4 + t); c40 = TL.Fma(b, w0, c40); c41 = TL.Fma(b, w1, c41);
            b = TL.Broadcast(x5 + t); c50 = TL.Fma(b, w0, c50); c51 = TL.Fma(b, w1, c51);
        }
        TL.Store(c00, c); TL.Store(c01, c + width); TL.Store(c10, c + stride); TL.Store(c11, c + stride + width);
        TL.Store(c20, c + 2 * stride); TL.Store(c21, c + 2 * stride + width); TL.Store(c30, c + 3 * stride); TL.Store(c31, c + 3 * stride + width);
        TL.Store(c40, c + 4 * stride); TL.Store(c41, c + 4 * stride + width); TL.Store(c50, c + 5 * stride); TL.Store(c51, c + 5 * stride + width);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tile of every blocked CPU product: <c>c[a, j] += Σ_t x[a, t] · b[t, j]</c> for <see cref="Rows"/> rows
/// of x and two vectors of columns of b (12 accumulators). Each step loads two vectors of b and broadcasts one value per
/// row of x, so every load feeds several FMAs (12 FMAs to 8 loads), where a row-by-row dot product loads both operands
/// for each FMA. Used by the weight products (<see cref="Gemm"/>) and the SSD chunk scan (<see cref="SsdScan"/>).
/// </summary>
internal static unsafe class MicroKernel
{
    public const int Rows = 6;
    /// <summary>Column counts given to <see cref="Product{TL, TV}"/> are multiples of this: two of the widest vectors.</summary>
    public const int ColumnMultiple = 32;

    /// <summary><see cref="Product{TL, TV}"/> on the vectors of <paramref name="set"/>.</summary>
    public static void Product(CpuInstructionSet set, float* x, long xStride, int rows, int steps, float* b, long bStride, int cols,
        float* c, long cStride, bool causal)
    {
        switch (set)
        {
            case CpuInstructionSet.Avx512: Product<Lanes512, Vector512<float>>(x, xStride, rows, steps, b, bStride, cols, c, cStride, causal); break;
            case CpuInstructionSet.Avx2: Product<Lanes256, Vector256<float>>(x, xStride, rows, steps, b, bStride, cols, c, cStride, causal); break;
            default: Product<Lanes1, float>(x, xStride, rows, steps, b, bStride, cols, c, cStride, causal); break;
        }
    }

    /// <summary>
    /// <c>c[rows, cols] += x[rows, steps] · b[steps, cols]</c>, cols a multiple of 2 vectors. With
    /// <paramref name="causal"/>, row i uses only steps ≤ i (x is lower triangular).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Product<TL, TV>(float* x, long xStride, int rows, int steps, float* b, long bStride, int cols,
        float* c, long cStride, bool causal = false)
        where TL : ILanes<TV> where TV : struct
    {
        for (int a = 0; a < rows; a += Rows)
        {
            int tileSteps = causal ? Math.Min(steps, a + Rows) : steps;
            for (int j = 0; j < cols; j += 2 * TL.Count)
                Tile<TL, TV>(x + a * xStride, xStride, Math.Min(Rows, rows - a), b + j, bStride, tileSteps, c + a * cStride + j, cStride);
        }
    }

    /// <summary>
    /// One tile: up to <see cref="Rows"/> rows of x (at <paramref name="xStride"/>) against two vectors of columns of b
    /// (rows at <paramref name="bStride"/>), accumulated into c (rows at <paramref name="cStride"/>). With fewer rows,
    /// the missing ones alias the last: they compute and store the same values to the same place.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // full optimisation from the first call: prefill may be the process's only one
    public static void Tile<TL, TV>(float* x, long xStride, int rows, float* b, long bStride, int steps, float* c, long cStride)
        where TL : ILanes<TV> where TV : struct
    {
        int width = TL.Count;
        long r1 = Math.Min(1, rows - 1), r2 = Math.Min(2, rows - 1), r3 = Math.Min(3, rows - 1), r4 = Math.Min(4, rows - 1), r5 = Math.Min(5, rows - 1);
        float* x0 = x, x1 = x + r1 * xStride, x2 = x + r2 * xStride, x3 = x + r3 * xStride, x4 = x + r4 * xStride, x5 = x + r5 * xStride;
        float* k0 = c, k1 = c + r1 * cStride, k2 = c + r2 * cStride, k3 = c + r3 * cStride, k4 = c + r4 * cStride, k5 = c + r5 * cStride;
        TV c00 = TL.Load(k0), c01 = TL.Load(k0 + width), c10 = TL.Load(k1), c11 = TL.Load(k1 + width);
        TV c20 = TL.Load(k2), c21 = TL.Load(k2 + width), c30 = TL.Load(k3), c31 = TL.Load(k3 + width);
        TV c40 = TL.Load(k4), c41 = TL.Load(k4 + width), c50 = TL.Load(k5), c51 = TL.Load(k5 + width);
        for (int t = 0; t < steps; t++, b += bStride)
        {
            TV w0 = TL.Load(b), w1 = TL.Load(b + width);
            TV v = TL.Broadcast(x0 + t); c00 = TL.Fma(v, w0, c00); c01 = TL.Fma(v, w1, c01);
            v = TL.Broadcast(x1 + t); c10 = TL.Fma(v, w0, c10); c11 = TL.Fma(v, w1, c11);
            v = TL.Broadcast(x2 + t); c20 = TL.Fma(v, w0, c20); c21 = TL.Fma(v, w1, c21);
            v = TL.Broadcast(x3 + t); c30 = TL.Fma(v, w0, c30); c31 = TL.Fma(v, w1, c31);
            v = TL.Broadcast(x4 + t); c40 = TL.Fma(v, w0, c40); c41 = TL.Fma(v, w1, c41);
            v = TL.Broadcast(x5 + t); c50 = TL.Fma(v, w0, c50); c51 = TL.Fma(v, w1, c51);
        }
        // Stored last row first: where rows alias, every store of a row writes the same values.
        TL.Store(c50, k5); TL.Store(c51, k5 + width); TL.Store(c40, k4); TL.Store(c41, k4 + width);
        TL.Store(c30, k3); TL.Store(c31, k3 + width); TL.Store(c20, k2); TL.Store(c21, k2 + width);
        TL.Store(c10, k1); TL.Store(c11, k1 + width); TL.Store(c00, k0); TL.Store(c01, k0 + width);
    }
}

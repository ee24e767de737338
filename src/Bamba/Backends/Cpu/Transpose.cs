using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Float32 matrix transposes for <see cref="Gemm"/> (its input panels and its output tiles): 16 × 16 register blocks
/// with AVX-512, plain element copies for the edges and the other instruction sets.
/// </summary>
internal static unsafe class Transpose
{
    /// <summary><c>dst[c, r] = src[r, c]</c> for <paramref name="rows"/> × <paramref name="cols"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(float* src, long srcStride, int rows, int cols, float* dst, long dstStride, CpuInstructionSet set)
    {
        int rows16 = 0, cols16 = 0;
        if (set == CpuInstructionSet.Avx512)
        {
            rows16 = rows & ~15;
            cols16 = cols & ~15;
            for (int r = 0; r < rows16; r += 16)
                for (int c = 0; c < cols16; c += 16)
                    Transpose16(src + r * srcStride + c, srcStride, dst + c * dstStride + r, dstStride);
        }
        for (int r = 0; r < rows; r++)
            for (int c = r < rows16 ? cols16 : 0; c < cols; c++) dst[c * dstStride + r] = src[r * srcStride + c];
    }

    /// <summary>
    /// One 16 × 16 block: unpacks of floats, then of pairs, leave in each 128-bit lane four rows of one column; two
    /// rounds of lane shuffles then gather each column's four lanes. Four rows at a time, all in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16(float* src, long srcStride, float* dst, long dstStride)
    {
        var (a0, a1, a2, a3) = FourRows(src, srcStride);
        var (b0, b1, b2, b3) = FourRows(src + 4 * srcStride, srcStride);
        var (c0, c1, c2, c3) = FourRows(src + 8 * srcStride, srcStride);
        var (d0, d1, d2, d3) = FourRows(src + 12 * srcStride, srcStride);
        Column4(a0, b0, c0, d0, dst, dstStride);
        Column4(a1, b1, c1, d1, dst + dstStride, dstStride);
        Column4(a2, b2, c2, d2, dst + 2 * dstStride, dstStride);
        Column4(a3, b3, c3, d3, dst + 3 * dstStride, dstStride);
    }

    /// <summary>Rows r .. r + 3 regrouped: result q holds, in its lane L, column 4L + q of the four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) FourRows(float* src, long stride)
    {
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + stride);
        Vector512<float> r2 = Vector512.Load(src + 2 * stride), r3 = Vector512.Load(src + 3 * stride);
        Vector512<double> lo01 = Avx512F.UnpackLow(r0, r1).AsDouble(), hi01 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        Vector512<double> lo23 = Avx512F.UnpackLow(r2, r3).AsDouble(), hi23 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        return (Avx512F.UnpackLow(lo01, lo23).AsSingle(), Avx512F.UnpackHigh(lo01, lo23).AsSingle(),
            Avx512F.UnpackLow(hi01, hi23).AsSingle(), Avx512F.UnpackHigh(hi01, hi23).AsSingle());
    }

    /// <summary>
    /// Columns q, 4 + q, 8 + q, 12 + q from the regrouped rows 0-3 (<paramref name="a"/>), 4-7, 8-11, 12-15: lane L of
    /// each input holds column 4L + q, so column 4L + q is lane L of a, b, c, d side by side, stored at 4L rows apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, float* dst, long stride)
    {
        var ab01 = Avx512F.Shuffle4x128(a, b, 0x44); // lanes 0, 1 of a, then of b
        var ab23 = Avx512F.Shuffle4x128(a, b, 0xEE); // lanes 2, 3
        var cd01 = Avx512F.Shuffle4x128(c, d, 0x44);
        var cd23 = Avx512F.Shuffle4x128(c, d, 0xEE);
        Avx512F.Shuffle4x128(ab01, cd01, 0x88).Store(dst);
        Avx512F.Shuffle4x128(ab01, cd01, 0xDD).Store(dst + 4 * stride);
        Avx512F.Shuffle4x128(ab23, cd23, 0x88).Store(dst + 8 * stride);
        Avx512F.Shuffle4x128(ab23, cd23, 0xDD).Store(dst + 12 * stride);
    }
}

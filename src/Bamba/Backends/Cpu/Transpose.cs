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
    /// rounds of lane shuffles then gather each column's four lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose16(float* src, long srcStride, float* dst, long dstStride)
    {
        var a = stackalloc Vector512<float>[16];
        var b = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i += 2)
        {
            Vector512<float> even = Vector512.Load(src + i * srcStride), odd = Vector512.Load(src + (i + 1) * srcStride);
            a[i] = Avx512F.UnpackLow(even, odd);
            a[i + 1] = Avx512F.UnpackHigh(even, odd);
        }
        for (int i = 0; i < 16; i += 4) // b[i + q], lane L: column 4L + q of rows i .. i + 3
        {
            b[i] = Avx512F.UnpackLow(a[i].AsDouble(), a[i + 2].AsDouble()).AsSingle();
            b[i + 1] = Avx512F.UnpackHigh(a[i].AsDouble(), a[i + 2].AsDouble()).AsSingle();
            b[i + 2] = Avx512F.UnpackLow(a[i + 1].AsDouble(), a[i + 3].AsDouble()).AsSingle();
            b[i + 3] = Avx512F.UnpackHigh(a[i + 1].AsDouble(), a[i + 3].AsDouble()).AsSingle();
        }
        for (int q = 0; q < 4; q++)
        {
            var c0 = Avx512F.Shuffle4x128(b[q], b[4 + q], 0x44); // lanes 0, 1 of each
            var c1 = Avx512F.Shuffle4x128(b[q], b[4 + q], 0xEE); // lanes 2, 3 of each
            var c2 = Avx512F.Shuffle4x128(b[8 + q], b[12 + q], 0x44);
            var c3 = Avx512F.Shuffle4x128(b[8 + q], b[12 + q], 0xEE);
            Avx512F.Shuffle4x128(c0, c2, 0x88).Store(dst + q * dstStride);
            Avx512F.Shuffle4x128(c0, c2, 0xDD).Store(dst + (4 + q) * dstStride);
            Avx512F.Shuffle4x128(c1, c3, 0x88).Store(dst + (8 + q) * dstStride);
            Avx512F.Shuffle4x128(c1, c3, 0xDD).Store(dst + (12 + q) * dstStride);
        }
    }
}

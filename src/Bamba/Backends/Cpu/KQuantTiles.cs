using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tiles of the K-quant prefill (<see cref="KQuantGemm"/>): two unpacked weight rows
/// (<see cref="KQuantLevels"/>) against several Q8_K rows, <c>Σ_b D_r[b] · d8_c[b] · Σ_g sc_g · Σ level · q8</c> for
/// every pair, less <c>Σ_g Minimums_g · d8_c · Σ q8</c>. Each load of a weight vector (levels and scales) feeds one vpmaddubsw and one vpmaddwd per input row,
/// each load of an input vector one per weight row, where the decode kernels (<see cref="KQuantDot256"/>,
/// <see cref="KQuantDot512"/>) take the bit fields apart again for every input row. Levels ≤ 63 times |q8| ≤ 127,
/// two per int16, cannot overflow; the block's float factor is applied once per block and pair. The minimums are
/// the caller's (<see cref="KQuantLevels.Minimums"/>). Fewer rows than the tile holds alias the last one.
/// </summary>
internal static unsafe class KQuantTiles
{
    /// <summary>Input rows per AVX-512 tile (2 × 4 pairs: 8 int32 and 8 float accumulators of 32 registers).</summary>
    public const int Columns512 = 4;
    /// <summary>Input rows per AVX2 tile (2 × 2 pairs: 4 + 4 accumulators of 16 registers).</summary>
    public const int Columns256 = 2;

    /// <summary>result[4r + c] for weight rows w0, w1 and input rows a0..a3 (their scaled sums g0..g3), over <paramref name="k"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile512(KQuantLevels w0, KQuantLevels w1, Q8KRow a0, Q8KRow a1, Q8KRow a2, Q8KRow a3,
        float* g0, float* g1, float* g2, float* g3, int k, float* result)
    {
        Vector512<float> f00 = default, f01 = default, f02 = default, f03 = default;
        Vector512<float> f10 = default, f11 = default, f12 = default, f13 = default;
        for (int b = 0; b < k / 256; b++)
        {
            Vector512<int> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector512<int> s10 = default, s11 = default, s12 = default, s13 = default;
            for (int o = 256 * b; o < 256 * b + 256; o += 64)
            {
                var l0 = Vector512.Load(w0.Levels + o);
                var l1 = Vector512.Load(w1.Levels + o);
                var c0 = Vector512.Load(w0.Scales + o / 2);
                var c1 = Vector512.Load(w1.Scales + o / 2);
                var y = Vector512.Load(a0.Q + o);
                s00 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y), c0);
                s10 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y), c1);
                y = Vector512.Load(a1.Q + o);
                s01 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y), c0);
                s11 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y), c1);
                y = Vector512.Load(a2.Q + o);
                s02 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y), c0);
                s12 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y), c1);
                y = Vector512.Load(a3.Q + o);
                s03 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l0, y), c0);
                s13 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(l1, y), c1);
            }
            float d0 = w0.D[b], d1 = w1.D[b], e0 = a0.D[b], e1 = a1.D[b], e2 = a2.D[b], e3 = a3.D[b];
            f00 = Fma512(s00, d0 * e0, f00); f01 = Fma512(s01, d0 * e1, f01); f02 = Fma512(s02, d0 * e2, f02); f03 = Fma512(s03, d0 * e3, f03);
            f10 = Fma512(s10, d1 * e0, f10); f11 = Fma512(s11, d1 * e1, f11); f12 = Fma512(s12, d1 * e2, f12); f13 = Fma512(s13, d1 * e3, f13);
            // The block's 16 minimums times the 16 scaled sums of each input row, taken off in the same lanes.
            var m0 = Vector512.Load(w0.Minimums + 16 * b);
            var m1 = Vector512.Load(w1.Minimums + 16 * b);
            var g = Vector512.Load(g0 + 16 * b);
            f00 = Avx512F.FusedMultiplyAddNegated(m0, g, f00); f10 = Avx512F.FusedMultiplyAddNegated(m1, g, f10);
            g = Vector512.Load(g1 + 16 * b);
            f01 = Avx512F.FusedMultiplyAddNegated(m0, g, f01); f11 = Avx512F.FusedMultiplyAddNegated(m1, g, f11);
            g = Vector512.Load(g2 + 16 * b);
            f02 = Avx512F.FusedMultiplyAddNegated(m0, g, f02); f12 = Avx512F.FusedMultiplyAddNegated(m1, g, f12);
            g = Vector512.Load(g3 + 16 * b);
            f03 = Avx512F.FusedMultiplyAddNegated(m0, g, f03); f13 = Avx512F.FusedMultiplyAddNegated(m1, g, f13);
        }
        result[0] = Sum(f00); result[1] = Sum(f01); result[2] = Sum(f02); result[3] = Sum(f03);
        result[4] = Sum(f10); result[5] = Sum(f11); result[6] = Sum(f12); result[7] = Sum(f13);
    }

    private static Vector512<float> Fma512(Vector512<int> sum, float scale, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(sum), Vector512.Create(scale), acc);

    /// <summary>result[2r + c] for weight rows w0, w1 and input rows a0, a1 (their scaled sums g0, g1), over <paramref name="k"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile256(KQuantLevels w0, KQuantLevels w1, Q8KRow a0, Q8KRow a1, float* g0, float* g1, int k, float* result)
    {
        Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default;
        for (int b = 0; b < k / 256; b++)
        {
            Vector256<int> s00 = default, s01 = default, s10 = default, s11 = default;
            for (int o = 256 * b; o < 256 * b + 256; o += 32)
            {
                var l0 = Vector256.Load(w0.Levels + o);
                var l1 = Vector256.Load(w1.Levels + o);
                var c0 = Vector256.Load(w0.Scales + o / 2);
                var c1 = Vector256.Load(w1.Scales + o / 2);
                var y = Vector256.Load(a0.Q + o);
                s00 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(l0, y), c0);
                s10 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(l1, y), c1);
                y = Vector256.Load(a1.Q + o);
                s01 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(l0, y), c0);
                s11 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(l1, y), c1);
            }
            float d0 = w0.D[b], d1 = w1.D[b], e0 = a0.D[b], e1 = a1.D[b];
            f00 = Fma256(s00, d0 * e0, f00); f01 = Fma256(s01, d0 * e1, f01);
            f10 = Fma256(s10, d1 * e0, f10); f11 = Fma256(s11, d1 * e1, f11);
            for (int h = 16 * b; h < 16 * b + 16; h += 8)
            {
                var m0 = Vector256.Load(w0.Minimums + h);
                var m1 = Vector256.Load(w1.Minimums + h);
                var g = Vector256.Load(g0 + h);
                f00 = Fma.MultiplyAddNegated(m0, g, f00); f10 = Fma.MultiplyAddNegated(m1, g, f10);
                g = Vector256.Load(g1 + h);
                f01 = Fma.MultiplyAddNegated(m0, g, f01); f11 = Fma.MultiplyAddNegated(m1, g, f11);
            }
        }
        result[0] = Sum(f00); result[1] = Sum(f01);
        result[2] = Sum(f10); result[3] = Sum(f11);
    }

    private static Vector256<float> Fma256(Vector256<int> sum, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.ConvertToSingle(sum), Vector256.Create(scale), acc);

    /// <summary>The lanes' sum, halving the vector first: Vector512.Sum reduced each 128-bit quarter alone (24 instructions to 9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector512<float> v) => Sum(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());
}

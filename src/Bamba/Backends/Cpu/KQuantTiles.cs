using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tiles of the K-quant prefill (<see cref="KQuantGemm"/>): two unpacked weight rows
/// (<see cref="KQuantLevels"/>) against a run of Q8_K rows, <c>Σ_b D_r[b] · d8_c[b] · Σ_g sc_g · Σ level · q8</c> for
/// every pair, less <c>Σ_g Minimums_g · d8_c · Σ q8</c>, plus the bias, stored into y. Each load of a weight vector
/// feeds one vpmaddubsw per input row of the tile, each load of an input vector one per weight row, where the decode
/// kernels (<see cref="KQuantDot256"/>, <see cref="KQuantDot512"/>) take the bit fields apart again for every input
/// row. In the tile order (<see cref="KQuantLevels.TileOrder"/>) an int16 lane meets the same group in every vector of a
/// block, so the pair sums of <c>span</c> vectors (<see cref="KQuantLevels.VectorsPerScale"/>) are added in int16 and
/// scaled by one vpmaddwd: 5 multiplies per block and pair for Q4_K instead of 8 when each vector was scaled (a
/// Q4_K GEMM of 128 × 2048 × 4096 on one Zen 5 core: 12.7 → 11.5 ms). The block's float factor is applied once per
/// block and pair (Q6_K: once per half), and its 16 minimums times the input row's scaled sums of 16
/// (<see cref="KQuantGemm"/>) are taken off in the same float lanes. The run over the input rows is inside (a tile of
/// k = 1024 takes under 100 ns; its set-up per call showed). Past the last row or column, operands alias the last one:
/// they compute and store the same value to the same place.
/// </summary>
internal static unsafe class KQuantTiles
{
    /// <summary>Input rows per AVX-512 tile (2 × 4 pairs: 8 int16 and 8 float accumulators of 32 registers).</summary>
    public const int Columns512 = 4;
    /// <summary>Input rows per AVX2 tile (2 × 2 pairs: 4 + 4 accumulators of 16 registers).</summary>
    public const int Columns256 = 2;

    /// <summary>
    /// <c>y[c·m + r·rowStep] = dot(w_r, input c) + bias_r</c> for r = 0, 1 and the <paramref name="cols"/> input rows
    /// from <paramref name="inputs"/> (their scaled sums from <paramref name="sums"/>), 4 at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run512(KQuantLevels w0, KQuantLevels w1, int rowStep, float bias0, float bias1,
        Q8KRow inputs, float* sums, int cols, int k, float* y, int m, int span)
    {
        for (int c = 0; c < cols; c += Columns512)
        {
            int c1 = Math.Min(c + 1, cols - 1), c2 = Math.Min(c + 2, cols - 1), c3 = Math.Min(c + 3, cols - 1);
            Q8KRow a0 = inputs.Offset(c, k), a1 = inputs.Offset(c1, k), a2 = inputs.Offset(c2, k), a3 = inputs.Offset(c3, k);
            float* g0 = sums + c * (k / 16), g1 = sums + c1 * (k / 16), g2 = sums + c2 * (k / 16), g3 = sums + c3 * (k / 16);
            Vector512<float> f00 = default, f01 = default, f02 = default, f03 = default;
            Vector512<float> f10 = default, f11 = default, f12 = default, f13 = default;
            for (int b = 0; b < k / 256; b++)
            {
                var q0 = Vector512.Load(w0.Scales + 32 * b);
                var q1 = Vector512.Load(w1.Scales + 32 * b);
                float d0 = w0.D[b], d1 = w1.D[b], e0 = a0.D[b], e1 = a1.D[b], e2 = a2.D[b], e3 = a3.D[b];
                for (int o = 256 * b; o < 256 * b + 256; o += 64 * span)
                {
                    Vector512<short> t00 = default, t01 = default, t02 = default, t03 = default;
                    Vector512<short> t10 = default, t11 = default, t12 = default, t13 = default;
                    for (int v = o; v < o + 64 * span; v += 64)
                    {
                        var l0 = Vector512.Load(w0.Levels + v);
                        var l1 = Vector512.Load(w1.Levels + v);
                        var x = Vector512.Load(a0.Q + v);
                        t00 += Avx512BW.MultiplyAddAdjacent(l0, x); t10 += Avx512BW.MultiplyAddAdjacent(l1, x);
                        x = Vector512.Load(a1.Q + v);
                        t01 += Avx512BW.MultiplyAddAdjacent(l0, x); t11 += Avx512BW.MultiplyAddAdjacent(l1, x);
                        x = Vector512.Load(a2.Q + v);
                        t02 += Avx512BW.MultiplyAddAdjacent(l0, x); t12 += Avx512BW.MultiplyAddAdjacent(l1, x);
                        x = Vector512.Load(a3.Q + v);
                        t03 += Avx512BW.MultiplyAddAdjacent(l0, x); t13 += Avx512BW.MultiplyAddAdjacent(l1, x);
                    }
                    f00 = Fma512(Avx512BW.MultiplyAddAdjacent(t00, q0), d0 * e0, f00); f01 = Fma512(Avx512BW.MultiplyAddAdjacent(t01, q0), d0 * e1, f01);
                    f02 = Fma512(Avx512BW.MultiplyAddAdjacent(t02, q0), d0 * e2, f02); f03 = Fma512(Avx512BW.MultiplyAddAdjacent(t03, q0), d0 * e3, f03);
                    f10 = Fma512(Avx512BW.MultiplyAddAdjacent(t10, q1), d1 * e0, f10); f11 = Fma512(Avx512BW.MultiplyAddAdjacent(t11, q1), d1 * e1, f11);
                    f12 = Fma512(Avx512BW.MultiplyAddAdjacent(t12, q1), d1 * e2, f12); f13 = Fma512(Avx512BW.MultiplyAddAdjacent(t13, q1), d1 * e3, f13);
                }
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
            // Last column first: where columns alias, the last store of each place is the same value anyway.
            y[(long)c3 * m + rowStep] = Sum(f13) + bias1; y[(long)c3 * m] = Sum(f03) + bias0;
            y[(long)c2 * m + rowStep] = Sum(f12) + bias1; y[(long)c2 * m] = Sum(f02) + bias0;
            y[(long)c1 * m + rowStep] = Sum(f11) + bias1; y[(long)c1 * m] = Sum(f01) + bias0;
            y[(long)c * m + rowStep] = Sum(f10) + bias1; y[(long)c * m] = Sum(f00) + bias0;
        }
    }

    private static Vector512<float> Fma512(Vector512<int> sum, float scale, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(sum), Vector512.Create(scale), acc);

    /// <summary><see cref="Run512"/> with 256-bit vectors, 2 input rows at a time: each 64-byte vector of the tile
    /// order as its two halves, groups 0..7 and 8..15, each with its half of the block's scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run256(KQuantLevels w0, KQuantLevels w1, int rowStep, float bias0, float bias1,
        Q8KRow inputs, float* sums, int cols, int k, float* y, int m, int span)
    {
        for (int c = 0; c < cols; c += Columns256)
        {
            int c1 = Math.Min(c + 1, cols - 1);
            Q8KRow a0 = inputs.Offset(c, k), a1 = inputs.Offset(c1, k);
            float* g0 = sums + c * (k / 16), g1 = sums + c1 * (k / 16);
            Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default;
            for (int b = 0; b < k / 256; b++)
            {
                float d0 = w0.D[b], d1 = w1.D[b], e0 = a0.D[b], e1 = a1.D[b];
                for (int half = 0; half < 64; half += 32)
                {
                    var q0 = Vector256.Load(w0.Scales + 32 * b + half / 2);
                    var q1 = Vector256.Load(w1.Scales + 32 * b + half / 2);
                    for (int o = 256 * b + half; o < 256 * b + 256; o += 64 * span)
                    {
                        Vector256<short> t00 = default, t01 = default, t10 = default, t11 = default;
                        for (int v = o; v < o + 64 * span; v += 64)
                        {
                            var l0 = Vector256.Load(w0.Levels + v);
                            var l1 = Vector256.Load(w1.Levels + v);
                            var x = Vector256.Load(a0.Q + v);
                            t00 += Avx2.MultiplyAddAdjacent(l0, x); t10 += Avx2.MultiplyAddAdjacent(l1, x);
                            x = Vector256.Load(a1.Q + v);
                            t01 += Avx2.MultiplyAddAdjacent(l0, x); t11 += Avx2.MultiplyAddAdjacent(l1, x);
                        }
                        f00 = Fma256(Avx2.MultiplyAddAdjacent(t00, q0), d0 * e0, f00); f01 = Fma256(Avx2.MultiplyAddAdjacent(t01, q0), d0 * e1, f01);
                        f10 = Fma256(Avx2.MultiplyAddAdjacent(t10, q1), d1 * e0, f10); f11 = Fma256(Avx2.MultiplyAddAdjacent(t11, q1), d1 * e1, f11);
                    }
                }
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
            y[(long)c1 * m + rowStep] = Sum(f11) + bias1; y[(long)c1 * m] = Sum(f01) + bias0;
            y[(long)c * m + rowStep] = Sum(f10) + bias1; y[(long)c * m] = Sum(f00) + bias0;
        }
    }

    private static Vector256<float> Fma256(Vector256<int> sum, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.ConvertToSingle(sum), Vector256.Create(scale), acc);

    /// <summary>The lanes' sum, halving the vector first: Vector512.Sum reduced each 128-bit quarter alone (24 instructions to 9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector512<float> v) => Sum(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());
}

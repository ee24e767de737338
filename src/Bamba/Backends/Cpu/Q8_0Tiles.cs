using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tiles of the Q8_0/Q4_0 prefill (<see cref="Q8_0Gemm"/>): two unpacked weight rows
/// (<see cref="Q8_0Weights"/>) against a run of quantized input rows (<see cref="Q8_0Inputs"/>), per pair
/// <c>Σ_b (d_w[b]·d_a[b]) · Σ_{i∈b} q_w[i]·q_a[i]</c> as llama.cpp's ggml_vec_dot_q8_0_q8_0 defines it, plus the bias.
/// A block's integer dot is exact; lane j of a group's 8 float lanes takes block j's term with one fused
/// multiply-add, and the lanes are summed last in a fixed tree (<see cref="Sum"/>). Every path, the scalar
/// <see cref="Dot"/> included, rounds the same operations in the same order, so all give the same bits.
/// Past the last row or column, operands alias the last one: they compute and store the same value to the same place.
/// </summary>
internal static unsafe class Q8_0Tiles
{
    /// <summary>Input rows per VNNI tile: 2 × 4 pairs, 8 int32 and 8 float accumulators of the 32 AVX-512 registers.</summary>
    public const int ColumnsVnni = 4;
    /// <summary>Input rows per AVX2 tile: 2 × 2 pairs, 4 + 4 accumulators of 16 registers.</summary>
    public const int Columns256 = 2;

    /// <summary>
    /// <c>y[c·m + r·rowStep] = dot(w_r, input c) + bias_r</c> for r = 0, 1 and the <paramref name="cols"/> input rows
    /// from <paramref name="inputs"/>, 4 at a time, with vpdpbusd: biased inputs (unsigned) times the signed weights,
    /// 4 bytes into each lane, every sum started at its weight block's correction. 256-bit AVX-VNNI (.NET 10 has no
    /// 512-bit form; the JIT encodes it with EVEX where AVX-512 is there, so all 32 registers serve), and Zen 4 splits
    /// 512-bit operations in two halves anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunVnni(Q8_0Weights w0, Q8_0Weights w1, int rowStep, float bias0, float bias1,
        Q8_0Interleaved inputs, int cols, float* y, int m)
    {
        for (int c = 0; c < cols; c += ColumnsVnni)
        {
            int c1 = Math.Min(c + 1, cols - 1), c2 = Math.Min(c + 2, cols - 1), c3 = Math.Min(c + 3, cols - 1);
            Q8_0Interleaved a0 = inputs.Row(c), a1 = inputs.Row(c1), a2 = inputs.Row(c2), a3 = inputs.Row(c3);
            Vector256<float> f00 = default, f01 = default, f02 = default, f03 = default;
            Vector256<float> f10 = default, f11 = default, f12 = default, f13 = default;
            for (int g = 0; g < inputs.Groups; g++)
            {
                Vector256<int> s00 = Vector256.Load(w0.Corrections + 8 * g), s10 = Vector256.Load(w1.Corrections + 8 * g);
                Vector256<int> s01 = s00, s02 = s00, s03 = s00, s11 = s10, s12 = s10, s13 = s10;
                for (int o = Q8_0Interleaved.GroupBytes * g; o < Q8_0Interleaved.GroupBytes * (g + 1); o += 32)
                {
                    var v0 = Vector256.Load((sbyte*)w0.Rows.Q + o);
                    var v1 = Vector256.Load((sbyte*)w1.Rows.Q + o);
                    var x = Vector256.Load(a0.Q + o);
                    s00 = AvxVnni.MultiplyWideningAndAdd(s00, x, v0); s10 = AvxVnni.MultiplyWideningAndAdd(s10, x, v1);
                    x = Vector256.Load(a1.Q + o);
                    s01 = AvxVnni.MultiplyWideningAndAdd(s01, x, v0); s11 = AvxVnni.MultiplyWideningAndAdd(s11, x, v1);
                    x = Vector256.Load(a2.Q + o);
                    s02 = AvxVnni.MultiplyWideningAndAdd(s02, x, v0); s12 = AvxVnni.MultiplyWideningAndAdd(s12, x, v1);
                    x = Vector256.Load(a3.Q + o);
                    s03 = AvxVnni.MultiplyWideningAndAdd(s03, x, v0); s13 = AvxVnni.MultiplyWideningAndAdd(s13, x, v1);
                }
                Vector256<float> d0 = Vector256.Load(w0.Rows.D + 8 * g), d1 = Vector256.Load(w1.Rows.D + 8 * g);
                var e = Vector256.Load(a0.D + 8 * g);
                f00 = Fma(s00, d0 * e, f00); f10 = Fma(s10, d1 * e, f10);
                e = Vector256.Load(a1.D + 8 * g);
                f01 = Fma(s01, d0 * e, f01); f11 = Fma(s11, d1 * e, f11);
                e = Vector256.Load(a2.D + 8 * g);
                f02 = Fma(s02, d0 * e, f02); f12 = Fma(s12, d1 * e, f12);
                e = Vector256.Load(a3.D + 8 * g);
                f03 = Fma(s03, d0 * e, f03); f13 = Fma(s13, d1 * e, f13);
            }
            // Last column first: where columns alias, the last store of each place is the same value anyway.
            y[(long)c3 * m + rowStep] = Sum(f13) + bias1; y[(long)c3 * m] = Sum(f03) + bias0;
            y[(long)c2 * m + rowStep] = Sum(f12) + bias1; y[(long)c2 * m] = Sum(f02) + bias0;
            y[(long)c1 * m + rowStep] = Sum(f11) + bias1; y[(long)c1 * m] = Sum(f01) + bias0;
            y[(long)c * m + rowStep] = Sum(f10) + bias1; y[(long)c * m] = Sum(f00) + bias0;
        }
    }

    /// <summary>
    /// <see cref="RunVnni"/> without VNNI, 2 input rows at a time. vpmaddubsw adds its products in pairs into 16 bits,
    /// which biased inputs (up to 255) times weights (down to −128) would overflow; so, as llama.cpp's AVX2 dot does,
    /// |q_w| (unsigned) times q_a given q_w's sign (at most 2·128·127 a pair), then vpmaddwd by ones into each lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run256(Q8_0Weights w0, Q8_0Weights w1, int rowStep, float bias0, float bias1,
        Q8_0Interleaved inputs, int cols, float* y, int m)
    {
        var ones = Vector256.Create((short)1);
        var unbias = Vector256.Create(Q8_0Inputs.Zero);
        for (int c = 0; c < cols; c += Columns256)
        {
            int c1 = Math.Min(c + 1, cols - 1);
            Q8_0Interleaved a0 = inputs.Row(c), a1 = inputs.Row(c1);
            Vector256<float> f00 = default, f01 = default, f10 = default, f11 = default;
            for (int g = 0; g < inputs.Groups; g++)
            {
                Vector256<int> s00 = default, s01 = default, s10 = default, s11 = default;
                for (int o = Q8_0Interleaved.GroupBytes * g; o < Q8_0Interleaved.GroupBytes * (g + 1); o += 32)
                {
                    var v0 = Vector256.Load((sbyte*)w0.Rows.Q + o);
                    var v1 = Vector256.Load((sbyte*)w1.Rows.Q + o);
                    Vector256<byte> u0 = Avx2.Abs(v0), u1 = Avx2.Abs(v1);
                    var x = (Vector256.Load(a0.Q + o) ^ unbias).AsSByte();
                    s00 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, v0)), ones);
                    s10 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, v1)), ones);
                    x = (Vector256.Load(a1.Q + o) ^ unbias).AsSByte();
                    s01 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, v0)), ones);
                    s11 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, v1)), ones);
                }
                Vector256<float> d0 = Vector256.Load(w0.Rows.D + 8 * g), d1 = Vector256.Load(w1.Rows.D + 8 * g);
                var e = Vector256.Load(a0.D + 8 * g);
                f00 = Fma(s00, d0 * e, f00); f10 = Fma(s10, d1 * e, f10);
                e = Vector256.Load(a1.D + 8 * g);
                f01 = Fma(s01, d0 * e, f01); f11 = Fma(s11, d1 * e, f11);
            }
            y[(long)c1 * m + rowStep] = Sum(f11) + bias1; y[(long)c1 * m] = Sum(f01) + bias0;
            y[(long)c * m + rowStep] = Sum(f10) + bias1; y[(long)c * m] = Sum(f00) + bias0;
        }
    }

    /// <summary>One pair in scalar code: the reference the tiles are tested against, the same roundings in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(Q8_0Weights w, Q8_0Interleaved a)
    {
        float* lanes = stackalloc float[Q8_0Interleaved.GroupBlocks];
        new Span<float>(lanes, Q8_0Interleaved.GroupBlocks).Clear();
        for (int g = 0; g < a.Groups; g++)
            for (int j = 0; j < Q8_0Interleaved.GroupBlocks; j++)
            {
                int b = g * Q8_0Interleaved.GroupBlocks + j, sum = w.Corrections[b];
                for (int t = 0; t < Q8_0Interleaved.GroupBlocks; t++)
                    for (int i = 0; i < 4; i++)
                    {
                        long at = (long)g * Q8_0Interleaved.GroupBytes + 32 * t + 4 * j + i;
                        sum += a.Q[at] * ((sbyte*)w.Rows.Q)[at];
                    }
                lanes[j] = MathF.FusedMultiplyAdd(sum, w.Rows.D[b] * a.D[b], lanes[j]);
            }
        // The tree of Sum(Vector256<float>).
        float l0 = lanes[0] + lanes[4], l1 = lanes[1] + lanes[5], l2 = lanes[2] + lanes[6], l3 = lanes[3] + lanes[7];
        return (l0 + l2) + (l1 + l3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<int> sum, Vector256<float> scale, Vector256<float> acc) =>
        System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(Vector256.ConvertToSingle(sum), scale, acc);

    /// <summary>The 8 lanes' sum in a fixed order, lanes i + (i + 4), then (0 + 2) + (1 + 3), as <see cref="Dot"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> v)
    {
        var four = v.GetLower() + v.GetUpper();
        var two = four + Sse.MoveHighToLow(four, four);
        return two.ToScalar() + two.GetElement(1);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The register tiles of the K-quant prefill (<see cref="KQuantGemm"/>): eight unpacked weight rows
/// (<see cref="KQuantRows8"/>, interleaved 8 values at a time) against a run of Q8_K rows,
/// <c>Σ_b D_r[b] · d8_c[b] · Σ_g sc_g · Σ level · q8</c> for every pair, less <c>Σ_g Minimums_g · d8_c · Σ q8</c>, plus
/// the bias, stored into y. Each 64-byte weight vector meets 8 input bytes broadcast, per input row of the tile: one
/// vpmaddubsw gives the pair sums of all 8 rows, so an input row needs one int16, one int32 and one float accumulator
/// for 8 weight rows. The pair sums of a group's vectors are added in int16 (levels ≤ 31 × |q8| ≤ 127: four vectors of
/// Q4_K/Q5_K's groups of 32, two of Q6_K's groups of 16, stay below 32768) and scaled by one vpmaddwd; the block's float
/// factor and the minimums are applied once per block and input row for all 8 weight rows. The input rows' Q8_K
/// scales and scaled group sums come side by side, 8 input rows per tile (<see cref="Slot"/>), so that each
/// multiply-add broadcasts its operand from one base register. llama.cpp's gemm_q4_K_8x8_q8_K has this shape. On
/// AVX-512 a tile takes two groups of 8 weight rows, so that each broadcast input feeds two products: an 8 × 8 tile,
/// with one broadcast per product, ran 1.4× faster than the 2-row tile on one core of this 2-core VM but not at all
/// faster on two at k = 1024. Two threads, 128 input rows: Q4_K 2048 × 4096 5.6 → 4.0 ms, 8192 × 1024 7.0 → 6.6 ms,
/// Q6_K 1024 × 4096 3.1 → 2.6 ms against the 2-row tile.
/// Past the last input row, operands alias the last one: they compute and store the same value to the same place.
/// </summary>
internal static unsafe class KQuantTiles
{
    /// <summary>Input rows per AVX-512 tile, against 16 weight rows (8 int16, 8 int32 and 8 float accumulators of 32 registers).</summary>
    public const int Columns512 = 4;
    /// <summary>Input rows per AVX2 tile (4 + 4 + 4 accumulators of 16 registers, 4 weight rows at a time).</summary>
    public const int Columns256 = 4;

    /// <summary>Where input row j's value i of <paramref name="perRow"/> lies in the side-by-side layout: rows in tiles of 8.</summary>
    public static long Slot(int j, int i, int perRow) => ((long)(j >> 3) * perRow + i) * 8 + (j & 7);

    /// <summary>
    /// <c>y[c·m + r] = dot(w_r, input c) + bias_r</c> for the first <paramref name="rowsA"/> rows of
    /// <paramref name="wA"/> (weight rows 0..7) and the first <paramref name="rowsB"/> of <paramref name="wB"/> (rows 8..15),
    /// and the input rows <paramref name="c0"/>.. (<paramref name="cols"/> of them, c0 a multiple of 4) of
    /// <paramref name="inputs"/>, whose Q8_K scales and group sums (<paramref name="groups"/> per block) are in
    /// <paramref name="scales"/> and <paramref name="sums"/> side by side (<see cref="Slot"/>), 4 input rows at a time:
    /// each input broadcast feeds both weight vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run512(KQuantRows8 wA, int rowsA, KQuantRows8 wB, int rowsB, float* bias, Q8KRow inputs, float* scales,
        float* sums, int groups, int c0, int cols, int k, float* y, int m)
    {
        int blocks = k / 256, span = 32 / groups, sumsPerRow = blocks * groups, last = c0 + cols - 1;
        for (int c = c0; c < c0 + cols; c += Columns512)
        {
            int c1 = Math.Min(c + 1, last), c2 = Math.Min(c + 2, last), c3 = Math.Min(c + 3, last);
            sbyte* x0 = inputs.Offset(c, k).Q, x1 = inputs.Offset(c1, k).Q, x2 = inputs.Offset(c2, k).Q, x3 = inputs.Offset(c3, k).Q;
            // c is a multiple of 4: its 4 input rows lie within one tile of 8 side by side.
            float* e = scales + Slot(c, 0, blocks), s8 = sums + Slot(c, 0, sumsPerRow);
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
            for (int b = 0; b < blocks; b++)
            {
                Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                for (int g = 0; g < groups; g++)
                {
                    Vector512<short> t0 = default, t1 = default, t2 = default, t3 = default, u0 = default, u1 = default, u2 = default, u3 = default;
                    for (int o = 256 * b + 8 * span * g, end = o + 8 * span; o < end; o += 8)
                    {
                        var v = Vector512.Load(wA.Levels + 8L * o);
                        var z = Vector512.Load(wB.Levels + 8L * o);
                        var x = Vector512.Create(*(long*)(x0 + o)).AsSByte();
                        t0 += Avx512BW.MultiplyAddAdjacent(v, x); u0 += Avx512BW.MultiplyAddAdjacent(z, x);
                        x = Vector512.Create(*(long*)(x1 + o)).AsSByte();
                        t1 += Avx512BW.MultiplyAddAdjacent(v, x); u1 += Avx512BW.MultiplyAddAdjacent(z, x);
                        x = Vector512.Create(*(long*)(x2 + o)).AsSByte();
                        t2 += Avx512BW.MultiplyAddAdjacent(v, x); u2 += Avx512BW.MultiplyAddAdjacent(z, x);
                        x = Vector512.Create(*(long*)(x3 + o)).AsSByte();
                        t3 += Avx512BW.MultiplyAddAdjacent(v, x); u3 += Avx512BW.MultiplyAddAdjacent(z, x);
                    }
                    long at = ((long)b * groups + g) * 32;
                    var q = Vector512.Load(wA.Scales + at);
                    a0 += Avx512BW.MultiplyAddAdjacent(t0, q); a1 += Avx512BW.MultiplyAddAdjacent(t1, q);
                    a2 += Avx512BW.MultiplyAddAdjacent(t2, q); a3 += Avx512BW.MultiplyAddAdjacent(t3, q);
                    q = Vector512.Load(wB.Scales + at);
                    b0 += Avx512BW.MultiplyAddAdjacent(u0, q); b1 += Avx512BW.MultiplyAddAdjacent(u1, q);
                    b2 += Avx512BW.MultiplyAddAdjacent(u2, q); b3 += Avx512BW.MultiplyAddAdjacent(u3, q);
                }
                float* eb = e + 8 * b;
                var d = Vector512.Load(wA.D + 16 * b);
                f0 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(a0), d * eb[0], f0);
                f1 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(a1), d * eb[c1 - c], f1);
                f2 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(a2), d * eb[c2 - c], f2);
                f3 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(a3), d * eb[c3 - c], f3);
                d = Vector512.Load(wB.D + 16 * b);
                h0 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(b0), d * eb[0], h0);
                h1 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(b1), d * eb[c1 - c], h1);
                h2 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(b2), d * eb[c2 - c], h2);
                h3 = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(b3), d * eb[c3 - c], h3);
                for (int g = b * groups; g < b * groups + groups; g++)
                {
                    var minA = Vector512.Load(wA.Minimums + (long)g * 16);
                    var minB = Vector512.Load(wB.Minimums + (long)g * 16);
                    float* sg = s8 + 8 * g;
                    var sum = Vector512.Create(sg[0]);
                    f0 = Avx512F.FusedMultiplyAddNegated(minA, sum, f0); h0 = Avx512F.FusedMultiplyAddNegated(minB, sum, h0);
                    sum = Vector512.Create(sg[c1 - c]);
                    f1 = Avx512F.FusedMultiplyAddNegated(minA, sum, f1); h1 = Avx512F.FusedMultiplyAddNegated(minB, sum, h1);
                    sum = Vector512.Create(sg[c2 - c]);
                    f2 = Avx512F.FusedMultiplyAddNegated(minA, sum, f2); h2 = Avx512F.FusedMultiplyAddNegated(minB, sum, h2);
                    sum = Vector512.Create(sg[c3 - c]);
                    f3 = Avx512F.FusedMultiplyAddNegated(minA, sum, f3); h3 = Avx512F.FusedMultiplyAddNegated(minB, sum, h3);
                }
            }
            // Last column first: where columns alias, the last store of each place is the same value anyway.
            float* yc = y + (long)(c - c0) * m, biasB = bias is null ? null : bias + 8;
            Store(f3, rowsA, bias, yc + (long)(c3 - c) * m); Store(h3, rowsB, biasB, yc + (long)(c3 - c) * m + 8);
            Store(f2, rowsA, bias, yc + (long)(c2 - c) * m); Store(h2, rowsB, biasB, yc + (long)(c2 - c) * m + 8);
            Store(f1, rowsA, bias, yc + (long)(c1 - c) * m); Store(h1, rowsB, biasB, yc + (long)(c1 - c) * m + 8);
            Store(f0, rowsA, bias, yc); Store(h0, rowsB, biasB, yc + 8);
        }
    }

    /// <summary><see cref="Run512"/> with 256-bit vectors: each 64-byte weight vector as its two halves, weight rows
    /// 0..3 and 4..7, 4 input rows at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run256(KQuantRows8 w, int rows, float* bias, Q8KRow inputs, float* scales, float* sums, int groups,
        int c0, int cols, int k, float* y, int m)
    {
        int blocks = k / 256, span = 32 / groups, sumsPerRow = blocks * groups, last = c0 + cols - 1;
        for (int half = 0; half < 2 && 4 * half < rows; half++)
            for (int c = c0; c < c0 + cols; c += Columns256)
            {
                int c1 = Math.Min(c + 1, last), c2 = Math.Min(c + 2, last), c3 = Math.Min(c + 3, last);
                sbyte* x0 = inputs.Offset(c, k).Q, x1 = inputs.Offset(c1, k).Q, x2 = inputs.Offset(c2, k).Q, x3 = inputs.Offset(c3, k).Q;
                // c is a multiple of 4: its tile of 4 lies within one tile of 8 side by side.
                float* e = scales + Slot(c, 0, blocks), s8 = sums + Slot(c, 0, sumsPerRow);
                Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
                for (int b = 0; b < blocks; b++)
                {
                    Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
                    for (int g = 0; g < groups; g++)
                    {
                        Vector256<short> t0 = default, t1 = default, t2 = default, t3 = default;
                        for (int o = 256 * b + 8 * span * g, end = o + 8 * span; o < end; o += 8)
                        {
                            var v = Vector256.Load(w.Levels + 8L * o + 32 * half);
                            t0 += Avx2.MultiplyAddAdjacent(v, Vector256.Create(*(long*)(x0 + o)).AsSByte());
                            t1 += Avx2.MultiplyAddAdjacent(v, Vector256.Create(*(long*)(x1 + o)).AsSByte());
                            t2 += Avx2.MultiplyAddAdjacent(v, Vector256.Create(*(long*)(x2 + o)).AsSByte());
                            t3 += Avx2.MultiplyAddAdjacent(v, Vector256.Create(*(long*)(x3 + o)).AsSByte());
                        }
                        var q = Vector256.Load(w.Scales + ((long)b * groups + g) * 32 + 16 * half);
                        a0 += Avx2.MultiplyAddAdjacent(t0, q); a1 += Avx2.MultiplyAddAdjacent(t1, q);
                        a2 += Avx2.MultiplyAddAdjacent(t2, q); a3 += Avx2.MultiplyAddAdjacent(t3, q);
                    }
                    var d = Vector256.Load(w.D + 16 * b + 8 * half);
                    float* eb = e + 8 * b;
                    f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(a0), d * eb[0], f0);
                    f1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(a1), d * eb[c1 - c], f1);
                    f2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(a2), d * eb[c2 - c], f2);
                    f3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(a3), d * eb[c3 - c], f3);
                    for (int g = b * groups; g < b * groups + groups; g++)
                    {
                        var min = Vector256.Load(w.Minimums + (long)g * 16 + 8 * half);
                        float* sg = s8 + 8 * g;
                        f0 = Fma.MultiplyAddNegated(min, Vector256.Create(sg[0]), f0);
                        f1 = Fma.MultiplyAddNegated(min, Vector256.Create(sg[c1 - c]), f1);
                        f2 = Fma.MultiplyAddNegated(min, Vector256.Create(sg[c2 - c]), f2);
                        f3 = Fma.MultiplyAddNegated(min, Vector256.Create(sg[c3 - c]), f3);
                    }
                }
                int first = 4 * half, count = Math.Min(4, rows - first);
                float* b0 = bias is null ? null : bias + first, at = y + (long)(c - c0) * m + first;
                Store(f3, count, b0, at + (long)(c3 - c) * m);
                Store(f2, count, b0, at + (long)(c2 - c) * m);
                Store(f1, count, b0, at + (long)(c1 - c) * m);
                Store(f0, count, b0, at);
            }
    }

    /// <summary>Row r's dot is the sum of lanes 2r and 2r + 1; the first <paramref name="rows"/> are stored.</summary>
    private static void Store(Vector512<float> f, int rows, float* bias, float* y)
    {
        for (int r = 0; r < rows; r++) y[r] = f[2 * r] + f[2 * r + 1] + (bias is null ? 0 : bias[r]);
    }

    private static void Store(Vector256<float> f, int rows, float* bias, float* y)
    {
        for (int r = 0; r < rows; r++) y[r] = f[2 * r] + f[2 * r + 1] + (bias is null ? 0 : bias[r]);
    }
}

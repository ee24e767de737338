using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// A Q4_K, Q5_K or Q6_K weight row unpacked for the prefill's integer tiles (<see cref="KQuantTiles"/>), which dot it
/// with many Q8_K rows: the bit fields are taken apart once per row instead of once per input row. Each block of 256
/// becomes <c>D · Σ_g Scales_g · Σ_(16 values of g) level · q8 − Σ_g Minimums_g · Σ_(16 values of g) q8</c> (times
/// the Q8_K block's scale), with every level unsigned (0..63) so that vpmaddubsw takes it as its unsigned operand:
/// Q4_K/Q5_K's minimums and Q6_K's offset of 32 (32·d·sc_g) both become the per-16 <see cref="Minimums"/>.
/// The levels, and the Q8_K bytes they meet, are in <see cref="TileOrder"/>: every 64-byte vector of a block holds 4
/// values of each group of 16 at the same bytes, so the tiles add vpmaddubsw's int16 pair sums over several vectors
/// and scale them once (<see cref="VectorsPerScale"/>), instead of once per vector.
/// </summary>
internal readonly unsafe struct KQuantLevels(byte* levels, short* scales, float* d, float* minimums)
{
    /// <summary>The row's levels, 0..63, one byte per value in <see cref="TileOrder"/> (the order of the Q8_K bytes).</summary>
    public readonly byte* Levels = levels;
    /// <summary>32 int16 per block, vpmaddwd's operand against any 64-byte vector's pair sums: lane i holds the
    /// integer scale of group i / 2 (a 32-byte half: groups 0..7 in the low half, 8..15 in the high one).</summary>
    public readonly short* Scales = scales;
    /// <summary>Per block of 256: the float factor of the integer sum.</summary>
    public readonly float* D = d;
    /// <summary>Per group of 16: what each unit of the Q8_K sum over the group takes off (dmin·m, or Q6_K's 32·d·sc).</summary>
    public readonly float* Minimums = minimums;

    /// <summary>Floats of scratch one unpacked row of <paramref name="k"/> values takes (<see cref="In"/>).</summary>
    public static int Floats(int k) => k / 4 + k / 16 + k / 256 + k / 16;

    /// <summary>The row laid out in <see cref="Floats"/> floats at <paramref name="scratch"/>.</summary>
    public static KQuantLevels In(float* scratch, int k) =>
        new((byte*)scratch, (short*)(scratch + k / 4), scratch + k / 4 + k / 16, scratch + k / 4 + k / 16 + k / 256);

    /// <summary>
    /// 64-byte vectors whose int16 pair sums (vpmaddubsw of levels and Q8_K bytes) may be added before they are scaled:
    /// four for Q4_K and Q5_K (levels ≤ 31: 4 · 2 · 31 · 127 ≤ 32767), two for Q6_K (levels ≤ 63).
    /// </summary>
    public static int VectorsPerScale(DType t) => t == DType.Q6_K ? 2 : 4;

    /// <summary>
    /// Reorders a block of 256 bytes in place so that value 16g + 4v + i (group g, run v of 4 within the group) goes to
    /// byte 64v + 4g + i: vector v of the block then has group g at bytes 4g..4g + 3, int16 lanes 2g and 2g + 1.
    /// A transpose of 16 × 4 runs of 4 bytes: with AVX-512 two two-source permutes and an insert per output vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TileOrder(byte* block, CpuInstructionSet set)
    {
        if (set == CpuInstructionSet.Avx512)
        {
            uint* runs = (uint*)block;
            Vector512<uint> a0 = Vector512.Load(runs), a1 = Vector512.Load(runs + 16), a2 = Vector512.Load(runs + 32), a3 = Vector512.Load(runs + 48);
            // Lanes 0..3 take run v of groups 0..3 from the first source, lanes 4..7 groups 4..7 from the second.
            var index = Vector512.Create(0u, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
            for (uint v = 0; v < 4; v++, index += Vector512<uint>.One)
            {
                var low = Avx512F.PermuteVar16x32x2(a0, index, a1);
                var high = Avx512F.PermuteVar16x32x2(a2, index, a3);
                Vector512.Create(low.GetLower(), high.GetLower()).Store(runs + 16 * v);
            }
            return;
        }
        uint* copy = stackalloc uint[64];
        Buffer.MemoryCopy(block, copy, 256, 256);
        uint* to = (uint*)block;
        for (int g = 0; g < 16; g++)
            for (int v = 0; v < 4; v++) to[16 * v + g] = copy[4 * g + v];
    }

    /// <summary>Unpacks the <paramref name="k"/> values of a stored row (AVX2 and wider: 256-bit vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
    public void Unpack(DType t, byte* row, int k, CpuInstructionSet set)
    {
        int size = t.BlockBytes();
        for (int b = 0; b < k / 256; b++, row += size)
        {
            byte* levels = Levels + 256 * b;
            short* scales = Scales + 32 * b;
            float* minimums = Minimums + 16 * b;
            if (t == DType.Q6_K) D[b] = Q6_K(row, levels, scales, minimums);
            else D[b] = Q45_K(row, t == DType.Q5_K, levels, scales, minimums);
            TileOrder(levels, set);
        }
    }

    /// <summary>block_q4_K / block_q5_K: fp16 d and dmin, 12 bytes of 6-bit scales and minimums, (Q5_K: 32 bytes of
    /// fifth bits,) 128 bytes of nibbles: low nibbles of bytes 32g.. are sub-block 2g, high nibbles sub-block 2g + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q45_K(byte* block, bool highBits, byte* levels, short* scales, float* minimums)
    {
        var low4 = Vector256.Create((byte)0xF);
        byte* qs = highBits ? block + 48 : block + 16;
        var fifth = highBits ? Vector256.Load(block + 16) : Vector256<byte>.Zero;
        for (int g = 0; g < 4; g++)
        {
            var q = Vector256.Load(qs + 32 * g);
            var lo = q & low4;
            var hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & low4;
            if (highBits)
            {
                lo |= KQuantDot256.FifthBit(fifth, 2 * g);
                hi |= KQuantDot256.FifthBit(fifth, 2 * g + 1);
            }
            lo.Store(levels + 64 * g);
            hi.Store(levels + 64 * g + 32);
        }
        float dmin = (float)*(Half*)(block + 2);
        byte* p = block + 4;
        for (int j = 0; j < 8; j++)
        {
            // QuantMath.ScaleMinK4's packing, without a span per sub-block.
            int sc = j < 4 ? p[j] & 63 : (p[j + 4] & 0xF) | ((p[j - 4] >> 6) << 4);
            int m = j < 4 ? p[j + 4] & 63 : (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
            for (int lane = 4 * j; lane < 4 * j + 4; lane++) scales[lane] = (short)sc; // groups 2j and 2j + 1
            minimums[2 * j] = minimums[2 * j + 1] = dmin * m;
        }
        return (float)*(Half*)block;
    }

    /// <summary>block_q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed 8-bit scales (one per 16
    /// values), fp16 d; x = d·sc·(level − 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_K(byte* block, byte* levels, short* scales, float* minimums)
    {
        for (int h = 0; h < 2; h++)
        {
            var (q1, q2, q3, q4) = KQuantDot256.Q6Levels(block + 64 * h, block + 128 + 32 * h);
            q1.Store(levels + 128 * h);
            q2.Store(levels + 128 * h + 32);
            q3.Store(levels + 128 * h + 64);
            q4.Store(levels + 128 * h + 96);
        }
        sbyte* sc = (sbyte*)(block + 192);
        float d = (float)*(Half*)(block + 208);
        for (int g = 0; g < 16; g++)
        {
            scales[2 * g] = scales[2 * g + 1] = sc[g];
            minimums[g] = d * (32 * sc[g]);
        }
        return d;
    }
}

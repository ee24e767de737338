using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Eight Q4_K, Q5_K or Q6_K weight rows unpacked for the prefill's integer tiles (<see cref="KQuantTiles"/>), which dot
/// them with many Q8_K rows: the bit fields are taken apart once per row, not once per input row. The layout is
/// llama.cpp's repacked one (block_q4_Kx8): the rows are interleaved 8 values at a time, so one vpmaddubsw of a 64-byte
/// vector against 8 input bytes broadcast gives all 8 rows' pair sums, and one accumulator serves 8 rows.
/// Each block of 256 becomes <c>D · Σ_g Scales_g · Σ_(values of g) level · q8 − Σ_g Minimums_g · Σ_(values of g) q8</c>
/// (times the Q8_K block's scale), every level unsigned (0..63) as vpmaddubsw's unsigned operand: Q4_K/Q5_K's minimums
/// and Q6_K's offset of 32 (32·d·sc_g) both become <see cref="Minimums"/>. A group g is a sub-block of 32 values for
/// Q4_K/Q5_K and 16 for Q6_K (<see cref="Groups"/> per block): the unit that has one scale.
/// </summary>
internal readonly unsafe struct KQuantRows8(byte* levels, short* scales, float* d, float* minimums)
{
    public const int Rows = 8;

    /// <summary>Per block, 32 vectors of 64 bytes: vector p holds values 8p..8p + 7 of row r at bytes 8r..8r + 7.</summary>
    public readonly byte* Levels = levels;
    /// <summary>Per block and group, 32 int16 (vpmaddwd's operand against the pair sums): lane 4r + j holds row r's scale.</summary>
    public readonly short* Scales = scales;
    /// <summary>Per block, 16 floats: lanes 2r and 2r + 1 hold row r's float factor.</summary>
    public readonly float* D = d;
    /// <summary>Per block and group, 16 floats: lane 2r holds what each unit of the Q8_K sum over the group takes off row r
    /// (dmin·m, or Q6_K's 32·d·sc); lane 2r + 1 is 0.</summary>
    public readonly float* Minimums = minimums;

    /// <summary>Groups with one scale per block of 256: sub-blocks of 32 values (Q4_K, Q5_K) or of 16 (Q6_K).</summary>
    public static int Groups(DType t) => t == DType.Q6_K ? 16 : 8;

    /// <summary>Floats of scratch eight unpacked rows of <paramref name="k"/> values take (<see cref="In"/>).</summary>
    public static int Floats(DType t, int k) => 2 * k + k / 256 * (Groups(t) * 16 + 16 + Groups(t) * 16);

    /// <summary>The rows laid out in <see cref="Floats"/> floats at <paramref name="scratch"/>.</summary>
    public static KQuantRows8 In(float* scratch, DType t, int k)
    {
        int blocks = k / 256, groups = Groups(t);
        float* scales = scratch + 2 * k, d = scales + blocks * groups * 16, minimums = d + blocks * 16;
        return new((byte*)scratch, (short*)scales, d, minimums);
    }

    /// <summary>
    /// Unpacks <paramref name="rows"/> (1..8) stored rows of <paramref name="k"/> values from <paramref name="first"/>,
    /// <paramref name="rowBytes"/> apart; the rows past them are zero (they add nothing and are not stored).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
    public void Unpack(DType t, byte* first, long rowBytes, int rows, int k)
    {
        int blocks = k / 256, groups = Groups(t), size = t.BlockBytes();
        byte* natural = stackalloc byte[256];
        int* sc = stackalloc int[16];
        float* minimum = stackalloc float[16];
        for (int r = 0; r < Rows; r++)
            for (int b = 0; b < blocks; b++)
            {
                float d = 0;
                if (r < rows)
                {
                    byte* block = first + r * rowBytes + (long)b * size;
                    d = t == DType.Q6_K ? Q6_K(block, natural, sc, minimum) : Q45_K(block, t == DType.Q5_K, natural, sc, minimum);
                }
                else
                {
                    new Span<byte>(natural, 256).Clear();
                    new Span<int>(sc, 16).Clear();
                    new Span<float>(minimum, 16).Clear();
                }
                ulong* runs = (ulong*)(Levels + 2048L * b) + r;
                for (int p = 0; p < 32; p++) runs[8 * p] = ((ulong*)natural)[p];
                for (int g = 0; g < groups; g++)
                {
                    short* lanes = Scales + ((long)b * groups + g) * 32 + 4 * r;
                    lanes[0] = lanes[1] = lanes[2] = lanes[3] = (short)sc[g];
                    float* m = Minimums + ((long)b * groups + g) * 16 + 2 * r;
                    m[0] = minimum[g];
                    m[1] = 0;
                }
                D[16 * b + 2 * r] = D[16 * b + 2 * r + 1] = d;
            }
    }

    /// <summary>block_q4_K / block_q5_K: fp16 d and dmin, 12 bytes of 6-bit scales and minimums, (Q5_K: 32 bytes of
    /// fifth bits,) 128 bytes of nibbles: low nibbles of bytes 32g.. are sub-block 2g, high nibbles sub-block 2g + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q45_K(byte* block, bool highBits, byte* levels, int* scales, float* minimums)
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
        float dmin = QuantMath.Half(block + 2);
        byte* p = block + 4;
        for (int j = 0; j < 8; j++)
        {
            // QuantMath.ScaleMinK4's packing, without a span per sub-block.
            scales[j] = j < 4 ? p[j] & 63 : (p[j + 4] & 0xF) | ((p[j - 4] >> 6) << 4);
            int m = j < 4 ? p[j + 4] & 63 : (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
            minimums[j] = dmin * m;
        }
        return QuantMath.Half(block);
    }

    /// <summary>block_q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed 8-bit scales (one per 16
    /// values), fp16 d; x = d·sc·(level − 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_K(byte* block, byte* levels, int* scales, float* minimums)
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
        float d = QuantMath.Half(block + 208);
        for (int g = 0; g < 16; g++)
        {
            scales[g] = sc[g];
            minimums[g] = d * (32 * sc[g]);
        }
        return d;
    }
}

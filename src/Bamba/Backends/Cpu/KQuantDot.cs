using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One Q4_K, Q5_K or Q6_K weight row dotted with one <see cref="Q8KRow"/> in integers, as llama.cpp's
/// ggml_vec_dot_qX_K_q8_K: per 256-value block, Σ sc·(q·q8) and the minimums (or Q6_K's offset of 32) through the
/// Q8_K block sums, then one float multiply by the two scales. The scalar loops here are the reference the AVX2
/// (<see cref="KQuantDot256"/>) and AVX-512 (<see cref="KQuantDot512"/>) kernels are tested against.
/// </summary>
internal static unsafe class KQuantDot
{
    public static bool Supports(DType t) => t is DType.Q4_K or DType.Q5_K or DType.Q6_K;

    public static float Dot(DType t, byte* row, Q8KRow a, int k, CpuInstructionSet set)
    {
        // The 512-bit kernels need AVX-512BW's byte multiply-add; without it the 256-bit ones serve.
        if (set == CpuInstructionSet.Avx512 && !Avx512BW.IsSupported) set = CpuInstructionSet.Avx2;
        return (t, set) switch
        {
            (DType.Q4_K, CpuInstructionSet.Avx512) => KQuantDot512.Q4_K(row, a, k),
            (DType.Q4_K, CpuInstructionSet.Avx2) => KQuantDot256.Q4_K(row, a, k),
            (DType.Q4_K, _) => Q4_KScalar(row, a, k),
            (DType.Q5_K, CpuInstructionSet.Avx512) => KQuantDot512.Q5_K(row, a, k),
            (DType.Q5_K, CpuInstructionSet.Avx2) => KQuantDot256.Q5_K(row, a, k),
            (DType.Q5_K, _) => Q5_KScalar(row, a, k),
            (DType.Q6_K, CpuInstructionSet.Avx512) => KQuantDot512.Q6_K(row, a, k),
            (DType.Q6_K, CpuInstructionSet.Avx2) => KQuantDot256.Q6_K(row, a, k),
            (DType.Q6_K, _) => Q6_KScalar(row, a, k),
            _ => throw new ArgumentException($"no K-quant dot for {t}"),
        };
    }

    internal static float Q4_KScalar(byte* row, Q8KRow a, int k) => Q45_KScalar(row, a, k, Q4_K.Bytes, highBits: false);

    internal static float Q5_KScalar(byte* row, Q8KRow a, int k) => Q45_KScalar(row, a, k, Q5_K.Bytes, highBits: true);

    /// <summary>Q4_K and Q5_K share everything but Q5_K's 32 bytes of fifth bits (bit j of byte l for sub-block j).</summary>
    private static float Q45_KScalar(byte* row, Q8KRow a, int k, int blockBytes, bool highBits)
    {
        float sum = 0;
        for (int b = 0; b < k / Q8KRow.Block; b++, row += blockBytes)
        {
            byte* qh = row + 16, qs = highBits ? row + 48 : row + 16;
            sbyte* q8 = a.Q + b * Q8KRow.Block;
            int sumq = 0, summ = MinimumSum(row + 4, a.Sums + b * Q8KRow.SumsPerBlock);
            for (int j = 0; j < 8; j++)
            {
                byte* run = qs + 32 * (j / 2);
                int shift = 4 * (j & 1), dot = 0;
                for (int l = 0; l < 32; l++)
                {
                    int q = (run[l] >> shift) & 0xF;
                    if (highBits) q |= ((qh[l] >> j) & 1) << 4;
                    dot += q * q8[32 * j + l];
                }
                sumq += QuantMath.ScaleMinK4(j, new ReadOnlySpan<byte>(row + 4, 12)).Scale * dot;
            }
            sum += a.D[b] * (QuantMath.Half(row) * sumq - QuantMath.Half(row + 2) * summ);
        }
        return sum;
    }

    /// <summary>Σ_j m_j · Σ q8 over sub-block j: what the block's minimums take off, in units of dmin·d8.</summary>
    private static int MinimumSum(byte* scales, short* sums)
    {
        var packed = new ReadOnlySpan<byte>(scales, 12);
        int sum = 0;
        for (int j = 0; j < 8; j++) sum += QuantMath.ScaleMinK4(j, packed).Min * (sums[2 * j] + sums[2 * j + 1]);
        return sum;
    }

    /// <summary>
    /// The 8 sub-blocks' 6-bit scales (<see cref="QuantMath.ScaleMinK4"/> for all of them at once, stored as int16) and
    /// Σ_j m_j · Σ q8 over sub-block j, for the SIMD kernels: the 12 packed bytes are read as three 32-bit words and
    /// unpacked four sub-blocks at a time (llama.cpp's kmask trick), and the minimums meet the Q8_K sums in one
    /// vpmaddwd, since a scalar loop over the sub-blocks cost as much as the block's dot products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int UnpackScales(byte* q, short* scales, short* sums)
    {
        const uint Low6 = 0x3F3F3F3F, Low4 = 0x0F0F0F0F, Top2 = 0x03030303;
        uint u0 = *(uint*)q, u1 = *(uint*)(q + 4), u2 = *(uint*)(q + 8);
        ulong scaleBytes = (u0 & Low6) | (ulong)((u2 & Low4) | ((u0 >> 6) & Top2) << 4) << 32;
        ulong minimumBytes = (u1 & Low6) | (ulong)(((u2 >> 4) & Low4) | ((u1 >> 6) & Top2) << 4) << 32;
        Sse41.ConvertToVector128Int16(Vector128.CreateScalar(scaleBytes).AsByte()).Store(scales);
        var m = Vector128.CreateScalar(minimumBytes).AsByte();
        var eachTwice = Avx2.ConvertToVector256Int16(Sse2.UnpackLow(m, m)); // m_j beside both sums of sub-block j
        return Vector256.Sum(Avx2.MultiplyAddAdjacent(eachTwice, Vector256.Load(sums)));
    }

    /// <summary>Σ_j sc_j · Σ q8 over the 16 values of scale j: Q6_K's offset of 32, in units of 32·d·d8.</summary>
    private static int OffsetSum(sbyte* scales, short* sums)
    {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += scales[j] * sums[j];
        return sum;
    }

    internal static float Q6_KScalar(byte* row, Q8KRow a, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / Q8KRow.Block; b++, row += Q6_K.Bytes)
        {
            sbyte* q8 = a.Q + b * Q8KRow.Block, sc = (sbyte*)(row + 192);
            int sumq = 0;
            for (int h = 0; h < 2; h++)
            {
                byte* ql = row + 64 * h, qh = row + 128 + 32 * h;
                sbyte* y = q8 + 128 * h, s = sc + 8 * h;
                for (int l = 0; l < 32; l++)
                {
                    int i = l / 16;
                    sumq += s[i] * ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) * y[l];
                    sumq += s[i + 2] * ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) * y[l + 32];
                    sumq += s[i + 4] * ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) * y[l + 64];
                    sumq += s[i + 6] * ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) * y[l + 96];
                }
            }
            sumq -= 32 * OffsetSum(sc, a.Sums + b * Q8KRow.SumsPerBlock);
            sum += a.D[b] * QuantMath.Half(row + 208) * sumq;
        }
        return sum;
    }
}

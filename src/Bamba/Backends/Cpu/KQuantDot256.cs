using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <see cref="KQuantDot"/>'s kernels on AVX2: 32 weight values at a time widened to unsigned bytes, multiplied with
/// the Q8_K bytes by vpmaddubsw (pairs summed into int16: at most 63·127·2, no overflow), weighted by their sub-block
/// scales with vpmaddwd into int32, one float multiply per block.
/// </summary>
internal static unsafe class KQuantDot256
{
    private const int Q4Bytes = 144, Q5Bytes = 176, Q6Bytes = 210;

    public static float Q4_K(byte* row, Q8KRow a, int k) => Q45_K(row, a, k, Q4Bytes, highBits: false);

    public static float Q5_K(byte* row, Q8KRow a, int k) => Q45_K(row, a, k, Q5Bytes, highBits: true);

    private static float Q45_K(byte* row, Q8KRow a, int k, int blockBytes, bool highBits)
    {
        var low4 = Vector256.Create((byte)0xF);
        var acc = Vector256<float>.Zero;
        float minimums = 0;
        short* sc = stackalloc short[8];
        for (int b = 0; b < k / Q8KRow.Block; b++, row += blockBytes)
        {
            byte* qs = highBits ? row + 48 : row + 16;
            sbyte* q8 = a.Q + b * Q8KRow.Block;
            int minimumSum = KQuantDot.UnpackScales(row + 4, sc, a.Sums + b * Q8KRow.SumsPerBlock);
            var fifth = highBits ? Vector256.Load(row + 16) : Vector256<byte>.Zero;
            var sumi = Vector256<int>.Zero;
            for (int g = 0; g < 4; g++)
            {
                var q = Vector256.Load(qs + 32 * g);
                var lo = q & low4;
                var hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & low4;
                if (highBits)
                {
                    lo |= FifthBit(fifth, 2 * g);
                    hi |= FifthBit(fifth, 2 * g + 1);
                }
                var p0 = Avx2.MultiplyAddAdjacent(lo, Vector256.Load(q8 + 64 * g));
                var p1 = Avx2.MultiplyAddAdjacent(hi, Vector256.Load(q8 + 64 * g + 32));
                sumi += Avx2.MultiplyAddAdjacent(p0, Vector256.Create(sc[2 * g]))
                    + Avx2.MultiplyAddAdjacent(p1, Vector256.Create(sc[2 * g + 1]));
            }
            float dd = a.D[b] * QuantMath.Half(row);
            acc = Fma.MultiplyAdd(Vector256.ConvertToSingle(sumi), Vector256.Create(dd), acc);
            minimums += a.D[b] * QuantMath.Half(row + 2) * minimumSum;
        }
        return Vector256.Sum(acc) - minimums;
    }

    /// <summary>16 in the bytes whose bit <paramref name="j"/> is set: Q5_K's fifth bit of sub-block j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> FifthBit(Vector256<byte> bits, int j)
    {
        var mask = Vector256.Create((byte)(1 << j));
        return Vector256.Equals(bits & mask, mask) & Vector256.Create((byte)16);
    }

    public static float Q6_K(byte* row, Q8KRow a, int k)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < k / Q8KRow.Block; b++, row += Q6Bytes)
        {
            sbyte* sc = (sbyte*)(row + 192);
            var sumi = Vector256<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                byte* ql = row + 64 * h;
                sbyte* y = a.Q + b * Q8KRow.Block + 128 * h, s = sc + 8 * h;
                var (q1, q2, q3, q4) = Q6Levels(ql, row + 128 + 32 * h);
                sumi += Scaled(q1, y, s) + Scaled(q2, y + 32, s + 2) + Scaled(q3, y + 64, s + 4) + Scaled(q4, y + 96, s + 6);
            }
            int offset = 32 * OffsetSum(sc, a.Sums + b * Q8KRow.SumsPerBlock);
            float dd = a.D[b] * QuantMath.Half(row + 208);
            acc = Fma.MultiplyAdd(Vector256.ConvertToSingle(sumi - Vector256.CreateScalar(offset)), Vector256.Create(dd), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// The 128 unsigned 6-bit levels of half a Q6_K block (its 64 bytes <paramref name="ql"/>, 32 bytes
    /// <paramref name="qh"/>) in value order, 32 per vector: 4 low bits from ql, 2 high bits from qh moved to bits 4..5
    /// (masked before shifting, so no bit crosses into the next byte of the 16-bit lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<byte>, Vector256<byte>, Vector256<byte>, Vector256<byte>) Q6Levels(byte* ql, byte* qh)
    {
        var low4 = Vector256.Create((byte)0xF);
        var l0 = Vector256.Load(ql);
        var l1 = Vector256.Load(ql + 32);
        var h = Vector256.Load(qh);
        var q1 = (l0 & low4) | Vector256.ShiftLeft((h & Vector256.Create((byte)0x03)).AsUInt16(), 4).AsByte();
        var q2 = (l1 & low4) | Vector256.ShiftLeft((h & Vector256.Create((byte)0x0C)).AsUInt16(), 2).AsByte();
        var q3 = (Vector256.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & low4) | (h & Vector256.Create((byte)0x30));
        var q4 = (Vector256.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & low4)
            | Vector256.ShiftRightLogical((h & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte();
        return (q1, q2, q3, q4);
    }

    /// <summary>Σ_j sc_j · Σ q8 over the 16 values of scale j (Q6_K's offset of 32, in units of 32·d·d8) in one vpmaddwd.</summary>
    internal static int OffsetSum(sbyte* scales, short* sums) =>
        Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(scales)), Vector256.Load(sums)));

    /// <summary>32 unsigned 6-bit values times 32 Q8_K bytes, the first 16 products weighted by s[0], the rest by s[1].</summary>
    private static Vector256<int> Scaled(Vector256<byte> q, sbyte* y, sbyte* s)
    {
        var products = Avx2.MultiplyAddAdjacent(q, Vector256.Load(y));
        return Avx2.MultiplyAddAdjacent(products, Vector256.Create(Vector128.Create((short)s[0]), Vector128.Create((short)s[1])));
    }
}

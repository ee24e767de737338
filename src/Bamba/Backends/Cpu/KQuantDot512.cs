using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <see cref="KQuantDot"/>'s kernels on AVX-512BW: as <see cref="KQuantDot256"/> with 64 values per multiply-add.
/// Q4_K/Q5_K put two 64-value runs side by side (low nibbles: sub-blocks 2g and 2g+2, high: 2g+1 and 2g+3), so
/// their Q8_K halves are gathered from two places; Q6_K's 128-value halves line up with the Q8_K bytes directly.
/// </summary>
internal static unsafe class KQuantDot512
{
    private const int Q4Bytes = 144, Q5Bytes = 176, Q6Bytes = 210;

    public static float Q4_K(byte* row, Q8KRow a, int k) => Q45_K(row, a, k, Q4Bytes, highBits: false);

    public static float Q5_K(byte* row, Q8KRow a, int k) => Q45_K(row, a, k, Q5Bytes, highBits: true);

    private static float Q45_K(byte* row, Q8KRow a, int k, int blockBytes, bool highBits)
    {
        var low4 = Vector512.Create((byte)0xF);
        var acc = Vector512<float>.Zero;
        float minimums = 0;
        short* sc = stackalloc short[8];
        // Lane indices that put sub-block i's scale in the low 16 int16 lanes and j's in the high 16, per step g.
        Vector512<short> low0 = Pair(0, 2), high0 = Pair(1, 3), low2 = Pair(4, 6), high2 = Pair(5, 7);
        for (int b = 0; b < k / Q8KRow.Block; b++, row += blockBytes)
        {
            byte* qs = highBits ? row + 48 : row + 16;
            sbyte* q8 = a.Q + b * Q8KRow.Block;
            int minimumSum = KQuantDot.UnpackScales(row + 4, sc, a.Sums + b * Q8KRow.SumsPerBlock);
            var scales = Vector128.Load(sc).ToVector256Unsafe().ToVector512Unsafe(); // lanes 8.. unused
            var bits = highBits ? Vector256.Load(row + 16) : Vector256<byte>.Zero;
            var fifth = Vector512.Create(bits, bits);
            var sumi = Vector512<int>.Zero;
            for (int g = 0; g < 4; g += 2)
            {
                var q = Vector512.Load(qs + 32 * g);
                var lo = q & low4;
                var hi = Vector512.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & low4;
                if (highBits)
                {
                    lo |= FifthBit(fifth, 2 * g, 2 * g + 2);
                    hi |= FifthBit(fifth, 2 * g + 1, 2 * g + 3);
                }
                var y0 = Vector512.Create(Vector256.Load(q8 + 64 * g), Vector256.Load(q8 + 64 * g + 64));
                var y1 = Vector512.Create(Vector256.Load(q8 + 64 * g + 32), Vector256.Load(q8 + 64 * g + 96));
                var scalesLow = Avx512BW.PermuteVar32x16(scales, g == 0 ? low0 : low2);
                var scalesHigh = Avx512BW.PermuteVar32x16(scales, g == 0 ? high0 : high2);
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo, y0), scalesLow)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(hi, y1), scalesHigh);
            }
            float dd = a.D[b] * QuantMath.Half(row);
            acc = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(sumi), Vector512.Create(dd), acc);
            minimums += a.D[b] * QuantMath.Half(row + 2) * minimumSum;
        }
        return Vector512.Sum(acc) - minimums;
    }

    /// <summary>Lane indices for vpermw: i in the low 16 int16 lanes, j in the high 16.</summary>
    private static Vector512<short> Pair(int i, int j) => Vector512.Create(Vector256.Create((short)i), Vector256.Create((short)j));

    /// <summary>16 where Q5_K's fifth bit is set: bit i in the low 32 bytes, bit j in the high 32.</summary>
    private static Vector512<byte> FifthBit(Vector512<byte> bits, int i, int j)
    {
        var mask = Vector512.Create(Vector256.Create((byte)(1 << i)), Vector256.Create((byte)(1 << j)));
        return Vector512.Equals(bits & mask, mask) & Vector512.Create((byte)16);
    }

    public static float Q6_K(byte* row, Q8KRow a, int k)
    {
        var low4 = Vector512.Create((byte)0xF);
        var acc = Vector512<float>.Zero;
        // Lane indices that spread scales 8h..8h+3 (values 0..63 of half h) and 8h+4..8h+7 (64..127) over 8 lanes each.
        Vector512<short> spreadA0 = Spread(0), spreadB0 = Spread(4), spreadA1 = Spread(8), spreadB1 = Spread(12);
        for (int b = 0; b < k / Q8KRow.Block; b++, row += Q6Bytes)
        {
            sbyte* sc = (sbyte*)(row + 192);
            var wide = Avx2.ConvertToVector256Int16(Vector128.Load(sc));
            var scales = Vector512.Create(wide, wide);
            var sumi = Vector512<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                sbyte* y = a.Q + b * Q8KRow.Block + 128 * h;
                var scalesA = Avx512BW.PermuteVar32x16(scales, h == 0 ? spreadA0 : spreadA1);
                var scalesB = Avx512BW.PermuteVar32x16(scales, h == 0 ? spreadB0 : spreadB1);
                var ql = Vector512.Load(row + 64 * h);
                var qh = Vector256.Load(row + 128 + 32 * h);
                // Values 0..63 of the half: 4 low bits of ql's low nibbles, 2 high bits from qh moved to bits 4..5;
                // values 64..127: ql's high nibbles and qh's bits 4..7.
                var highA = Vector512.Create(
                    Vector256.ShiftLeft((qh & Vector256.Create((byte)0x03)).AsUInt16(), 4).AsByte(),
                    Vector256.ShiftLeft((qh & Vector256.Create((byte)0x0C)).AsUInt16(), 2).AsByte());
                var highB = Vector512.Create(
                    qh & Vector256.Create((byte)0x30),
                    Vector256.ShiftRightLogical((qh & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte());
                var qa = (ql & low4) | highA;
                var qb = (Vector512.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & low4) | highB;
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qa, Vector512.Load(y)), scalesA)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qb, Vector512.Load(y + 64)), scalesB);
            }
            int offset = 32 * KQuantDot256.OffsetSum(sc, a.Sums + b * Q8KRow.SumsPerBlock);
            float dd = a.D[b] * QuantMath.Half(row + 208);
            acc = Avx512F.FusedMultiplyAdd(Vector512.ConvertToSingle(sumi - Vector512.CreateScalar(offset)), Vector512.Create(dd), acc);
        }
        return Vector512.Sum(acc);
    }

    /// <summary>Lane i of 32 holds first + i / 8: four scales, each over the 8 int16 lanes of its 16 values.</summary>
    private static Vector512<short> Spread(int first) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)(first + 1))),
        Vector256.Create(Vector128.Create((short)(first + 2)), Vector128.Create((short)(first + 3))));
}

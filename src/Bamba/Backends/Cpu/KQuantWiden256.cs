using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <see cref="KQuantWiden512"/> for AVX2: 8 bytes at a time zero-extended to 8 int32 lanes, the same integer
/// assembly of the levels and the same float operations in the same order.
/// </summary>
internal static unsafe class KQuantWiden256
{
    private static Vector256<int> Bytes(byte* p) => Avx2.ConvertToVector256Int32(p);

    /// <summary><c>scale·q − min</c> as two separate roundings, as <see cref="Weights.Quants.Q4_K.Dequantize"/> does.</summary>
    private static void Store(Vector256<int> q, Vector256<float> scale, Vector256<float> min, float* o) =>
        (scale * Vector256.ConvertToSingle(q) - min).Store(o);

    public static void Q4_K(byte* block, float* o)
    {
        byte* q = block + 16;
        for (int j = 0; j < 4; j++, q += 32, o += 64)
        {
            var (d1, m1) = KQuantWiden.ScaleMin(block, 2 * j);
            var (d2, m2) = KQuantWiden.ScaleMin(block, 2 * j + 1);
            for (int h = 0; h < 32; h += 8)
            {
                var b = Bytes(q + h);
                Store(b & Vector256.Create(0xF), Vector256.Create(d1), Vector256.Create(m1), o + h);
                Store(b >>> 4, Vector256.Create(d2), Vector256.Create(m2), o + 32 + h);
            }
        }
    }

    public static void Q5_K(byte* block, float* o)
    {
        byte* qh = block + 16, ql = block + 48;
        for (int j = 0; j < 4; j++, ql += 32, o += 64)
        {
            var (d1, m1) = KQuantWiden.ScaleMin(block, 2 * j);
            var (d2, m2) = KQuantWiden.ScaleMin(block, 2 * j + 1);
            for (int h = 0; h < 32; h += 8)
            {
                Vector256<int> b = Bytes(ql + h), high = Bytes(qh + h), one = Vector256.Create(1);
                var lo = (b & Vector256.Create(0xF)) + (((high >>> (2 * j)) & one) << 4);
                var hi = (b >>> 4) + (((high >>> (2 * j + 1)) & one) << 4);
                Store(lo, Vector256.Create(d1), Vector256.Create(m1), o + h);
                Store(hi, Vector256.Create(d2), Vector256.Create(m2), o + 32 + h);
            }
        }
    }

    public static void Q6_K(byte* block, float* o)
    {
        float d = (float)*(Half*)(block + 208);
        var nibble = Vector256.Create(0xF);
        var twoBits = Vector256.Create(3);
        var bias = Vector256.Create(32);
        for (int n = 0; n < 256; n += 128)
        {
            byte* ql = block + n / 2, qh = block + 128 + n / 4;
            sbyte* sc = (sbyte*)(block + 192 + n / 16);
            for (int l = 0; l < 32; l += 8)
            {
                int s = l / 16;
                Vector256<int> a = Bytes(ql + l), b = Bytes(ql + l + 32), high = Bytes(qh + l);
                var q1 = (a & nibble) | ((high & twoBits) << 4);
                var q2 = (b & nibble) | (((high >>> 2) & twoBits) << 4);
                var q3 = (a >>> 4) | (((high >>> 4) & twoBits) << 4);
                var q4 = (b >>> 4) | ((high >>> 6) << 4);
                (Vector256.Create(d * sc[s]) * Vector256.ConvertToSingle(q1 - bias)).Store(o + n + l);
                (Vector256.Create(d * sc[s + 2]) * Vector256.ConvertToSingle(q2 - bias)).Store(o + n + l + 32);
                (Vector256.Create(d * sc[s + 4]) * Vector256.ConvertToSingle(q3 - bias)).Store(o + n + l + 64);
                (Vector256.Create(d * sc[s + 6]) * Vector256.ConvertToSingle(q4 - bias)).Store(o + n + l + 96);
            }
        }
    }
}

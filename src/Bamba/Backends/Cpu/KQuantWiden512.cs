using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One K-quant block (256 values) widened to float32 with AVX-512: 16 bytes at a time zero-extended to 16 int32 lanes,
/// the levels assembled in integers, then <c>ds·q − dm</c> (Q4_K, Q5_K) or <c>(d·sc)·(q − 32)</c> (Q6_K) in floats.
/// </summary>
internal static unsafe class KQuantWiden512
{
    private static Vector512<int> Bytes(byte* p) => Avx512F.ConvertToVector512Int32(Vector128.Load(p));

    /// <summary><c>scale·q − min</c> as two separate roundings, as <see cref="Weights.Quants.Q4_K.Dequantize"/> does.</summary>
    private static void Store(Vector512<int> q, Vector512<float> scale, Vector512<float> min, float* o) =>
        (scale * Vector512.ConvertToSingle(q) - min).Store(o);

    public static void Q4_K(byte* block, float* o)
    {
        byte* q = block + 16;
        for (int j = 0; j < 4; j++, q += 32, o += 64)
        {
            var (d1, m1) = KQuantWiden.ScaleMin(block, 2 * j);
            var (d2, m2) = KQuantWiden.ScaleMin(block, 2 * j + 1);
            for (int h = 0; h < 32; h += 16)
            {
                var b = Bytes(q + h);
                Store(b & Vector512.Create(0xF), Vector512.Create(d1), Vector512.Create(m1), o + h);
                Store(b >>> 4, Vector512.Create(d2), Vector512.Create(m2), o + 32 + h);
            }
        }
    }

    /// <summary>As Q4_K with a fifth bit per value: bit 2j of high byte l for low nibble l of run j, bit 2j+1 for its high nibble.</summary>
    public static void Q5_K(byte* block, float* o)
    {
        byte* qh = block + 16, ql = block + 48;
        for (int j = 0; j < 4; j++, ql += 32, o += 64)
        {
            var (d1, m1) = KQuantWiden.ScaleMin(block, 2 * j);
            var (d2, m2) = KQuantWiden.ScaleMin(block, 2 * j + 1);
            for (int h = 0; h < 32; h += 16)
            {
                Vector512<int> b = Bytes(ql + h), high = Bytes(qh + h), one = Vector512.Create(1);
                var lo = (b & Vector512.Create(0xF)) + (((high >>> (2 * j)) & one) << 4);
                var hi = (b >>> 4) + (((high >>> (2 * j + 1)) & one) << 4);
                Store(lo, Vector512.Create(d1), Vector512.Create(m1), o + h);
                Store(hi, Vector512.Create(d2), Vector512.Create(m2), o + 32 + h);
            }
        }
    }

    /// <summary>Each 128-value half: value l + 32i takes a nibble of ql and bits 2i..2i+1 of qh[l], scaled by sc[l/16 + 2i].</summary>
    public static void Q6_K(byte* block, float* o)
    {
        float d = (float)*(Half*)(block + 208);
        var nibble = Vector512.Create(0xF);
        var twoBits = Vector512.Create(3);
        var bias = Vector512.Create(32);
        for (int n = 0; n < 256; n += 128)
        {
            byte* ql = block + n / 2, qh = block + 128 + n / 4;
            sbyte* sc = (sbyte*)(block + 192 + n / 16);
            for (int s = 0; s < 2; s++)
            {
                int l = 16 * s;
                Vector512<int> a = Bytes(ql + l), b = Bytes(ql + l + 32), high = Bytes(qh + l);
                var q1 = (a & nibble) | ((high & twoBits) << 4);
                var q2 = (b & nibble) | (((high >>> 2) & twoBits) << 4);
                var q3 = (a >>> 4) | (((high >>> 4) & twoBits) << 4);
                var q4 = (b >>> 4) | ((high >>> 6) << 4);
                (Vector512.Create(d * sc[s]) * Vector512.ConvertToSingle(q1 - bias)).Store(o + n + l);
                (Vector512.Create(d * sc[s + 2]) * Vector512.ConvertToSingle(q2 - bias)).Store(o + n + l + 32);
                (Vector512.Create(d * sc[s + 4]) * Vector512.ConvertToSingle(q3 - bias)).Store(o + n + l + 64);
                (Vector512.Create(d * sc[s + 6]) * Vector512.ConvertToSingle(q4 - bias)).Store(o + n + l + 96);
            }
        }
    }
}

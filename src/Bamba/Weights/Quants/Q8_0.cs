using System.Runtime.Intrinsics;

namespace Bamba.Weights.Quants;

/// <summary>block_q8_0: an fp16 scale d and 32 int8 values; x = d·q.</summary>
internal static class Q8_0
{
    public const int Elements = 32, Bytes = 34;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / Elements; b++)
        {
            var v = x.Slice(b * Elements, Elements);
            var o = y.Slice(b * Bytes, Bytes);
            float amax = 0;
            foreach (float f in v) amax = Math.Max(amax, MathF.Abs(f));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0f;
            QuantMath.WriteHalf(o, d);
            for (int j = 0; j < Elements; j++) o[2 + j] = (byte)(sbyte)MathF.Round(v[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> x, Span<float> y)
    {
        if (Vector256.IsHardwareAccelerated) { DequantizeVector(x, y); return; }
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block);
            for (int j = 0; j < Elements; j++) y[b * Elements + j] = (sbyte)block[2 + j] * d;
        }
    }

    /// <summary>The same products, a block at a time in 256-bit vectors: the prefill packs every weight through here.</summary>
    private static unsafe void DequantizeVector(ReadOnlySpan<byte> x, Span<float> y)
    {
        int blocks = y.Length / Elements;
        if (x.Length < blocks * Bytes) throw new ArgumentException("Q8_0: fewer bytes than the values asked for");
        fixed (byte* xp = x)
        fixed (float* yp = y)
            for (int b = 0; b < blocks; b++)
            {
                byte* block = xp + b * Bytes;
                float* o = yp + b * Elements;
                var d = Vector256.Create(QuantMath.Half(block));
                var (lo, hi) = Vector256.Widen(Vector256.Load((sbyte*)(block + 2)));
                var (q0, q1) = Vector256.Widen(lo);
                var (q2, q3) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(q0) * d).Store(o);
                (Vector256.ConvertToSingle(q1) * d).Store(o + 8);
                (Vector256.ConvertToSingle(q2) * d).Store(o + 16);
                (Vector256.ConvertToSingle(q3) * d).Store(o + 24);
            }
    }
}

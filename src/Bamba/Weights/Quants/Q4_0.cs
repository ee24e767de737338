namespace Bamba.Weights.Quants;

/// <summary>block_q4_0: an fp16 scale d and 32 4-bit values (element j in the low nibble of byte j, j+16 in its high one); x = d·(q − 8).</summary>
internal static class Q4_0
{
    public const int Elements = 32, Bytes = 18;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / Elements; b++)
        {
            var v = x.Slice(b * Elements, Elements);
            var o = y.Slice(b * Bytes, Bytes);
            float amax = 0, max = 0;
            foreach (float f in v)
                if (amax < MathF.Abs(f)) { amax = MathF.Abs(f); max = f; }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0f;
            QuantMath.WriteHalf(o, d);
            for (int j = 0; j < Elements / 2; j++)
            {
                int q0 = Math.Min(15, (int)(v[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(v[j + 16] * id + 8.5f));
                o[2 + j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> x, Span<float> y)
    {
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block);
            var o = y.Slice(b * Elements, Elements);
            for (int j = 0; j < Elements / 2; j++)
            {
                o[j] = ((block[2 + j] & 0x0F) - 8) * d;
                o[j + 16] = ((block[2 + j] >> 4) - 8) * d;
            }
        }
    }
}

namespace Bamba.Weights.Quants;

/// <summary>
/// block_q4_K: fp16 d and dmin, 12 bytes of packed 6-bit scales and minimums for 8 sub-blocks of 32, and 128 bytes
/// of 4-bit values (each 64 values: the first 32 in low nibbles, the next 32 in high ones); x = d·sc·q − dmin·m.
/// </summary>
internal static class Q4_K
{
    public const int Elements = 256, Bytes = 144;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[Elements];
        for (int b = 0; b < x.Length / Elements; b++)
        {
            var o = y.Slice(b * Bytes, Bytes);
            var scales = o.Slice(4, 12);
            KQuant.PackScales(x.Slice(b * Elements, Elements), 15, -1f, 20, levels, o, scales);
            var q = o.Slice(16, 128);
            for (int j = 0; j < Elements; j += 64)
                for (int l = 0; l < 32; l++) q[j / 2 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 4));
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> x, Span<float> y)
    {
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block), min = QuantMath.Half(block[2..]);
            var scales = block.Slice(4, 12);
            var q = block.Slice(16, 128);
            var o = y.Slice(b * Elements, Elements);
            for (int j = 0, sub = 0; j < Elements; j += 64, sub += 2)
            {
                var (sc1, m1) = QuantMath.ScaleMinK4(sub, scales);
                var (sc2, m2) = QuantMath.ScaleMinK4(sub + 1, scales);
                float d1 = d * sc1, mn1 = min * m1, d2 = d * sc2, mn2 = min * m2;
                for (int l = 0; l < 32; l++)
                {
                    o[j + l] = d1 * (q[j / 2 + l] & 0xF) - mn1;
                    o[j + 32 + l] = d2 * (q[j / 2 + l] >> 4) - mn2;
                }
            }
        }
    }
}

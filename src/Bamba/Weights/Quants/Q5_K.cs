namespace Bamba.Weights.Quants;

/// <summary>
/// block_q5_K: as <see cref="Q4_K"/> plus 32 bytes of high bits (bit 2s of byte l for the low-nibble value l of
/// 64-value run s, bit 2s+1 for its high-nibble value); x = d·sc·q − dmin·m with q in [0, 31].
/// </summary>
internal static class Q5_K
{
    public const int Elements = 256, Bytes = 176;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[Elements];
        for (int b = 0; b < x.Length / Elements; b++)
        {
            var o = y.Slice(b * Bytes, Bytes);
            KQuant.PackScales(x.Slice(b * Elements, Elements), 31, -0.5f, 15, levels, o, o.Slice(4, 12));
            var qh = o.Slice(16, 32);
            var ql = o.Slice(48, 128);
            qh.Clear();
            for (int n = 0, s = 0; n < Elements; n += 64, s++)
                for (int j = 0; j < 32; j++)
                {
                    int l1 = levels[n + j], l2 = levels[n + j + 32];
                    if (l1 > 15) { l1 -= 16; qh[j] |= (byte)(1 << (2 * s)); }
                    if (l2 > 15) { l2 -= 16; qh[j] |= (byte)(2 << (2 * s)); }
                    ql[n / 2 + j] = (byte)(l1 | (l2 << 4));
                }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> x, Span<float> y)
    {
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block), min = QuantMath.Half(block[2..]);
            var scales = block.Slice(4, 12);
            var qh = block.Slice(16, 32);
            var ql = block.Slice(48, 128);
            var o = y.Slice(b * Elements, Elements);
            for (int j = 0, s = 0; j < Elements; j += 64, s++)
            {
                var (sc1, m1) = QuantMath.ScaleMinK4(2 * s, scales);
                var (sc2, m2) = QuantMath.ScaleMinK4(2 * s + 1, scales);
                float d1 = d * sc1, mn1 = min * m1, d2 = d * sc2, mn2 = min * m2;
                int u1 = 1 << (2 * s), u2 = 2 << (2 * s);
                for (int l = 0; l < 32; l++)
                {
                    o[j + l] = d1 * ((ql[j / 2 + l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - mn1;
                    o[j + 32 + l] = d2 * ((ql[j / 2 + l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - mn2;
                }
            }
        }
    }
}

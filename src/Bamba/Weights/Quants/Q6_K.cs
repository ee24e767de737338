namespace Bamba.Weights.Quants;

/// <summary>
/// block_q6_K: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 int8 scales (one per 16 values) and an fp16 d;
/// x = d·sc·(q − 32) with q in [0, 63].
/// </summary>
internal static class Q6_K
{
    public const int Elements = 256, Bytes = 210;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[Elements];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / Elements; b++)
        {
            var v = x.Slice(b * Elements, Elements);
            var o = y.Slice(b * Bytes, Bytes);
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                scales[ib] = QuantMath.MakeQxQuants(16, 32, v.Slice(16 * ib, 16), levels.Slice(16 * ib, 16));
                if (MathF.Abs(scales[ib]) > maxAbsScale) { maxAbsScale = MathF.Abs(scales[ib]); maxScale = scales[ib]; }
            }
            o.Clear();
            if (maxAbsScale < 1e-15f) continue;
            float iscale = -128f / maxScale;
            QuantMath.WriteHalf(o[208..], 1 / iscale);
            var sc = o.Slice(192, 16);
            for (int ib = 0; ib < 16; ib++) sc[ib] = (byte)(sbyte)Math.Min(127, QuantMath.NearestInt(iscale * scales[ib]));
            float d = QuantMath.Half(o[208..]);
            for (int j = 0; j < 16; j++)
            {
                float ds = d * (sbyte)sc[j];
                if (ds == 0) continue;
                for (int i = 0; i < 16; i++)
                    levels[16 * j + i] = (sbyte)(Math.Max(-32, Math.Min(31, QuantMath.NearestInt(v[16 * j + i] / ds))) + 32);
            }
            Pack(levels, o.Slice(0, 128), o.Slice(128, 64));
        }
    }

    private static void Pack(ReadOnlySpan<sbyte> levels, Span<byte> ql, Span<byte> qh)
    {
        for (int j = 0; j < Elements; j += 128)
            for (int l = 0; l < 32; l++)
            {
                int q1 = levels[j + l], q2 = levels[j + l + 32], q3 = levels[j + l + 64], q4 = levels[j + l + 96];
                ql[j / 2 + l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[j / 2 + l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[j / 4 + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
    }

    public static void Dequantize(ReadOnlySpan<byte> x, Span<float> y)
    {
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block[208..]);
            var o = y.Slice(b * Elements, Elements);
            for (int n = 0; n < Elements; n += 128)
            {
                var ql = block.Slice(n / 2, 64);
                var qh = block.Slice(128 + n / 4, 32);
                var sc = block.Slice(192 + n / 16, 8);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    o[n + l] = d * (sbyte)sc[s] * (((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
                    o[n + l + 32] = d * (sbyte)sc[s + 2] * (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    o[n + l + 64] = d * (sbyte)sc[s + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    o[n + l + 96] = d * (sbyte)sc[s + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
            }
        }
    }
}

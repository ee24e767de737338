namespace Bamba.Weights.Quants;

/// <summary>The scale and minimum search shared by Q4_K and Q5_K (quantize_row_q4_K_ref / q5_K_ref up to the bit packing).</summary>
internal static class KQuant
{
    /// <summary>
    /// Finds each 32-value sub-block's scale and minimum, packs them as 6-bit values with the block's fp16 d and dmin
    /// (bytes 0..3 of <paramref name="block"/>) into <paramref name="scales"/>, and requantizes <paramref name="levels"/>
    /// against the packed scales.
    /// </summary>
    public static void PackScales(ReadOnlySpan<float> x, int nmax, float rmin, int steps, Span<byte> levels, Span<byte> block, Span<byte> scales)
    {
        Span<float> mins = stackalloc float[8], subScales = stackalloc float[8], weights = stackalloc float[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var v = x.Slice(32 * j, 32);
            float sumX2 = 0;
            foreach (float f in v) sumX2 += f * f;
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(v[l]);
            subScales[j] = QuantMath.MakeQkx2Quants(32, nmax, v, weights, levels.Slice(32 * j, 32), out mins[j], rmin, 0.1f, steps);
            if (subScales[j] > maxScale) maxScale = subScales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
        scales.Clear();
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, (int)(byte)QuantMath.NearestInt(invScale * subScales[j]));
            int lm = Math.Min(63, (int)(byte)QuantMath.NearestInt(invMin * mins[j]));
            if (j < 4) { scales[j] = (byte)ls; scales[j + 4] = (byte)lm; }
            else
            {
                scales[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                scales[j - 4] |= (byte)((ls >> 4) << 6);
                scales[j] |= (byte)((lm >> 4) << 6);
            }
        }
        QuantMath.WriteHalf(block, maxScale / 63f);
        QuantMath.WriteHalf(block[2..], maxMin / 63f);
        float d = QuantMath.Half(block), dmin = QuantMath.Half(block[2..]);
        for (int j = 0; j < 8; j++)
        {
            var (sc, m) = QuantMath.ScaleMinK4(j, scales);
            float ds = d * sc;
            if (ds == 0) continue;
            float dm = dmin * m;
            for (int i = 0; i < 32; i++)
                levels[32 * j + i] = (byte)Math.Max(0, Math.Min(nmax, QuantMath.NearestInt((x[32 * j + i] + dm) / ds)));
        }
    }
}

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
        for (int b = 0; b < y.Length / Elements; b++)
        {
            var block = x.Slice(b * Bytes, Bytes);
            float d = QuantMath.Half(block);
            for (int j = 0; j < Elements; j++) y[b * Elements + j] = (sbyte)block[2 + j] * d;
        }
    }
}

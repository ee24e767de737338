namespace Bamba.Weights.Quants;

/// <summary>
/// float8_e4m3fn (the OCP FP8 E4M3 of PyTorch and compressed-tensors): a sign, 4 exponent bits biased by 7, 3 mantissa
/// bits; exponent 0 holds the subnormals m·2⁻⁹; no infinities, and only S.1111.111 (0x7F, 0xFF) is NaN, so the
/// largest finite value is 0x7E = 448. Decoding is a table lookup; encoding rounds to nearest, ties to even, as a
/// PyTorch cast does after compressed-tensors clamps to ±448.
/// </summary>
public static class Fp8E4M3
{
    public const float Max = 448f;

    /// <summary>The float32 value of every byte.</summary>
    public static ReadOnlySpan<float> Table => _table;

    private static readonly float[] _table = BuildTable();

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int exponent = (b >> 3) & 0xF, mantissa = b & 7;
            float magnitude = exponent == 0 ? mantissa * MathF.ScaleB(1f, -9)
                : exponent == 15 && mantissa == 7 ? float.NaN
                : (8 + mantissa) * MathF.ScaleB(1f, exponent - 10);
            table[b] = (b & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }

    /// <summary>The nearest e4m3 value (ties to even); beyond ±448 saturates, NaN stays NaN.</summary>
    public static byte Encode(float x)
    {
        if (float.IsNaN(x)) return 0x7F;
        uint bits = BitConverter.SingleToUInt32Bits(x);
        byte sign = (byte)((bits >> 24) & 0x80);
        float a = MathF.Min(MathF.Abs(x), Max);
        if (a < MathF.ScaleB(1f, -6))
            // Subnormals are whole multiples of 2⁻⁹; rounding up to 8 of them lands on the smallest normal, code 0x08.
            return (byte)(sign | (int)MathF.Round(a * 512f, MidpointRounding.ToEven));
        uint abs = BitConverter.SingleToUInt32Bits(a);
        // Round float32's 23 mantissa bits to 3 (to nearest, ties to even); the carry may bump the exponent, as it should.
        uint rounded = (abs + 0x7FFFF + ((abs >> 20) & 1)) >> 20;
        return (byte)(sign | (int)(rounded - (120u << 3)));
    }

    /// <summary>The scale that maps a row's largest magnitude to 448 (compressed-tensors: max|x| / 448, at least float32 epsilon).</summary>
    public static float ScaleFor(float maxAbs) => MathF.Max(maxAbs / Max, MathF.ScaleB(1f, -23));

    /// <summary><c>y[i] = table[x[i]] · scale</c>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> x, float scale, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = _table[x[i]] * scale;
    }

    /// <summary><c>y[i] = encode(x[i] / scale)</c>, clamped to ±448.</summary>
    public static void Quantize(ReadOnlySpan<float> x, float scale, Span<byte> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Encode(x[i] / scale);
    }
}

namespace Bamba.Weights.Quants;

/// <summary>Quantizes float rows to a block format and back, by <see cref="DType"/>.</summary>
public static class BlockCodec
{
    /// <summary>Quantizes <paramref name="x"/> (whole blocks) into <paramref name="y"/> (<c>t.ByteCount(x.Length)</c> bytes).</summary>
    public static void Quantize(DType t, ReadOnlySpan<float> x, Span<byte> y)
    {
        switch (t)
        {
            case DType.Q8_0: Q8_0.Quantize(x, y); break;
            case DType.Q4_0: Q4_0.Quantize(x, y); break;
            case DType.Q4_K: Q4_K.Quantize(x, y); break;
            case DType.Q5_K: Q5_K.Quantize(x, y); break;
            case DType.Q6_K: Q6_K.Quantize(x, y); break;
            default: throw new ArgumentException($"{t} is not a block format");
        }
    }

    /// <summary>Dequantizes <c>y.Length</c> values (whole blocks) from <paramref name="x"/>.</summary>
    public static void Dequantize(DType t, ReadOnlySpan<byte> x, Span<float> y)
    {
        switch (t)
        {
            case DType.Q8_0: Q8_0.Dequantize(x, y); break;
            case DType.Q4_0: Q4_0.Dequantize(x, y); break;
            case DType.Q4_K: Q4_K.Dequantize(x, y); break;
            case DType.Q5_K: Q5_K.Dequantize(x, y); break;
            case DType.Q6_K: Q6_K.Dequantize(x, y); break;
            default: throw new ArgumentException($"{t} is not a block format");
        }
    }
}

using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Tests.Weights;

/// <summary>
/// llama.cpp's CPU backend multiplies a quantized weight with activations quantized too: Q8_0 blocks of 32 for Q8_0
/// and Q4_0 weights (x86's quantize_row_q8_0: d = amax/127 stored as fp16, q = x·127/amax rounded half to even),
/// Q8_K blocks of 256 for the K-quants (quantize_row_q8_K_ref: d = max/−127 as float32, q = min(127, nearest(x/d))).
/// <see cref="RoundTrip"/> replaces the activations by those values (q·d): the tests' reference for what the engine's
/// quantized products multiply (<c>Q8KRow</c>, <c>Q8_0Inputs</c>), written from llama.cpp's definitions.
/// </summary>
public static class ActivationQuant
{
    public static void RoundTrip(DType weight, ReadOnlySpan<float> x, Span<float> y)
    {
        if (weight is DType.Q8_0 or DType.Q4_0) Q8_0(x, y);
        else Q8_K(x, y);
    }

    private static void Q8_0(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int b = 0; b + 32 <= x.Length; b += 32)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, MathF.Abs(x[b + j]));
            float d = (float)(Half)(amax / 127f), id = amax != 0 ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) y[b + j] = MathF.Round(x[b + j] * id, MidpointRounding.ToEven) * d;
        }
    }

    private static void Q8_K(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int b = 0; b + 256 <= x.Length; b += 256)
        {
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
                if (MathF.Abs(x[b + j]) > amax) { amax = MathF.Abs(x[b + j]); max = x[b + j]; }
            if (amax == 0) { y.Slice(b, 256).Clear(); continue; }
            float iscale = -127f / max, d = 1 / iscale;
            for (int j = 0; j < 256; j++) y[b + j] = Math.Min(127, QuantMath.NearestInt(iscale * x[b + j])) * d;
        }
    }
}

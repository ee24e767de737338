using Bamba.Weights.Quants;

namespace Bamba.Tests.Weights;

/// <summary>float8_e4m3fn decoding against a table computed here from the format's definition, and encoding against
/// a brute-force nearest search.</summary>
public sealed class Fp8E4M3Tests
{
    /// <summary>The definition in double arithmetic: (−1)^s · 2^(e−7) · (1 + m/8), subnormals 2^−6 · m/8, S.1111.111 NaN.</summary>
    internal static float Reference(int b)
    {
        int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
        if (e == 15 && m == 7) return float.NaN;
        double magnitude = e == 0 ? Math.Pow(2, -6) * (m / 8.0) : Math.Pow(2, e - 7) * (1 + m / 8.0);
        return (float)(s == 1 ? -magnitude : magnitude);
    }

    [Fact]
    public void EveryByteDecodesBitExactly()
    {
        for (int b = 0; b < 256; b++)
        {
            float expected = Reference(b), actual = Fp8E4M3.Table[b];
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"0x{b:X2} must be NaN");
            else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"0x{b:X2}: {actual}, expected {expected}");
        }
    }

    [Theory]
    [InlineData(0x7E, 448f)]
    [InlineData(0xFE, -448f)]
    [InlineData(0x01, 0.001953125f)] // 2^-9, the smallest subnormal
    [InlineData(0x07, 0.013671875f)] // 7·2^-9, the largest subnormal
    [InlineData(0x08, 0.015625f)]    // 2^-6, the smallest normal
    [InlineData(0x38, 1f)]
    [InlineData(0x00, 0f)]
    public void LandmarkValues(int b, float value) => Assert.Equal(value, Fp8E4M3.Table[b]);

    [Fact]
    public void NaNEncodingsAndNegativeZero()
    {
        Assert.True(float.IsNaN(Fp8E4M3.Table[0x7F]));
        Assert.True(float.IsNaN(Fp8E4M3.Table[0xFF]));
        Assert.Equal(254, Enumerable.Range(0, 256).Count(b => !float.IsNaN(Fp8E4M3.Table[b])));
        Assert.True(float.IsNegative(Fp8E4M3.Table[0x80]) && Fp8E4M3.Table[0x80] == 0);
    }

    [Fact]
    public void EveryFiniteValueEncodesToItself()
    {
        for (int b = 0; b < 256; b++)
            if (!float.IsNaN(Fp8E4M3.Table[b])) Assert.Equal(b, Fp8E4M3.Encode(Fp8E4M3.Table[b]));
    }

    [Fact]
    public void EncodingRoundsToNearestWithTiesToEvenAndSaturates()
    {
        var finite = Enumerable.Range(0, 256).Where(b => !float.IsNaN(Reference(b)) && b != 0x80).ToArray();
        var random = new Random(5);
        var samples = new List<float>();
        for (int i = 0; i < 20000; i++) samples.Add((float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-12, 10))));
        // Every midpoint between neighbours: ties go to the even code.
        var positive = finite.Where(b => b < 0x80).OrderBy(b => Reference(b)).ToArray();
        for (int i = 0; i + 1 < positive.Length; i++) samples.Add((Reference(positive[i]) + Reference(positive[i + 1])) / 2);
        foreach (float x in samples)
        {
            float clamped = Math.Clamp(x, -448f, 448f);
            int best = finite.OrderBy(b => Math.Abs((double)Reference(b) - clamped)).ThenBy(b => b & 1).First();
            Assert.True(Math.Abs((double)Reference(best) - clamped) == Math.Abs((double)Fp8E4M3.Table[Fp8E4M3.Encode(x)] - clamped)
                && ((Fp8E4M3.Encode(x) & 1) == (best & 1) || Reference(best) == 0), $"{x}: 0x{Fp8E4M3.Encode(x):X2}, expected 0x{best:X2}");
        }
        Assert.Equal(0x7E, Fp8E4M3.Encode(1e6f));
        Assert.Equal(0xFE, Fp8E4M3.Encode(-1e6f));
        Assert.Equal(0x7F, Fp8E4M3.Encode(float.NaN));
    }
}

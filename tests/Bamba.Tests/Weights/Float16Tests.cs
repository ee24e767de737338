using Bamba.Numerics;

namespace Bamba.Tests.Weights;

/// <summary><see cref="Float16.ToSingle"/> against .NET's Half conversion for every one of the 65 536 bit patterns.</summary>
public class Float16Tests
{
    [Fact]
    public void EveryBitPatternConvertsAsHalfDoes()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits), actual = Float16.ToSingle((ushort)bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"0x{bits:X4}: {actual}, not NaN");
            else Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"0x{bits:X4}: {actual} vs {expected}");
        }
    }
}

namespace Bamba.Numerics;

/// <summary>IEEE binary16 bits to float32 without a call: <c>(float)Half</c> is a library call, which showed in the
/// Q8_0 prefill's unpacking of one scale per 32 weights.</summary>
public static class Float16
{
    /// <summary>
    /// Exactly <c>(float)BitConverter.UInt16BitsToHalf(bits)</c>: the exponent and mantissa shifted into float32's
    /// places read 2⁻¹¹² times the value, normal or subnormal, so one multiply by 2¹¹² (exact) rebiases it; infinities
    /// and NaNs (exponent 31) keep float32's all-ones exponent and their payload.
    /// </summary>
    public static float ToSingle(ushort bits)
    {
        uint magnitude = bits & 0x7FFFu, sign = (uint)(bits & 0x8000) << 16;
        float value = magnitude >= 0x7C00
            ? BitConverter.UInt32BitsToSingle(0x7F800000u | (magnitude & 0x3FF) << 13)
            : BitConverter.UInt32BitsToSingle(magnitude << 13) * 5.192296858534828e33f; // 2¹¹²
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(value) | sign);
    }
}

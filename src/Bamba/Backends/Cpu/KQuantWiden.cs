using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Widens Q4_K, Q5_K and Q6_K blocks to float32 with vectors for the prefill GEMM, which widens every weight once a
/// prefill: through the scalar dequantizer that widening cost Q4_K_M a third of llama.cpp's prefill speed. Each value
/// is the scalar dequantizer's, bit for bit: the same float products and differences in the same order, never fused.
/// (An fp16 d times a 6- or 8-bit scale times a level of at most 6 bits needs at most 24 significant bits, so the
/// products are exact and only Q4_K/Q5_K's subtraction of the minimum rounds; keeping the order keeps that true.)
/// </summary>
internal static unsafe class KQuantWiden
{
    /// <summary>
    /// Writes the <paramref name="values"/> (whole blocks) of <paramref name="blocks"/> to <paramref name="dst"/> and
    /// returns true, or returns false where <paramref name="dtype"/> has no vector path on <see cref="CpuKernels.Current"/>.
    /// </summary>
    public static bool TryWiden(DType dtype, byte* blocks, int values, float* dst)
    {
        var set = CpuKernels.Current;
        if (set == CpuInstructionSet.Scalar || dtype is not (DType.Q4_K or DType.Q5_K or DType.Q6_K)) return false;
        int size = dtype.BlockBytes(), count = values / dtype.BlockElements();
        for (int b = 0; b < count; b++)
        {
            byte* block = blocks + (long)b * size;
            float* o = dst + (long)b * 256;
            if (set == CpuInstructionSet.Avx512) Widen512(dtype, block, o);
            else Widen256(dtype, block, o);
        }
        return true;
    }

    private static void Widen512(DType dtype, byte* block, float* o)
    {
        switch (dtype)
        {
            case DType.Q4_K: KQuantWiden512.Q4_K(block, o); break;
            case DType.Q5_K: KQuantWiden512.Q5_K(block, o); break;
            default: KQuantWiden512.Q6_K(block, o); break;
        }
    }

    private static void Widen256(DType dtype, byte* block, float* o)
    {
        switch (dtype)
        {
            case DType.Q4_K: KQuantWiden256.Q4_K(block, o); break;
            case DType.Q5_K: KQuantWiden256.Q5_K(block, o); break;
            default: KQuantWiden256.Q6_K(block, o); break;
        }
    }

    /// <summary>Sub-block <paramref name="sub"/>'s d·scale and dmin·min, computed as the scalar dequantizer computes them.</summary>
    public static (float Scale, float Min) ScaleMin(byte* block, int sub)
    {
        float d = (float)*(Half*)block, min = (float)*(Half*)(block + 2);
        var (sc, m) = QuantMath.ScaleMinK4(sub, new ReadOnlySpan<byte>(block + 4, 12));
        return (d * sc, min * m);
    }
}

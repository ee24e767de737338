using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>A slice of steps of consecutive weight rows widened to float32, row-major, for <see cref="Gemm"/>.</summary>
internal static unsafe class WeightRows
{
    /// <summary>
    /// <c>dst[r, t] = W[r0 + r, t0 + t]</c> for r below <paramref name="rows"/>, t below <paramref name="steps"/>. For
    /// the block formats <paramref name="t0"/> and <paramref name="steps"/> fall on block boundaries.
    /// </summary>
    public static void Widen(byte* w, DType dtype, int k, int r0, int rows, int t0, int steps, float* dst)
    {
        for (int r = 0; r < rows; r++) Widen(w, dtype, (long)(r0 + r) * k + t0, new Span<float>(dst + (long)r * steps, steps));
    }

    private static void Widen(byte* w, DType dtype, long start, Span<float> destination)
    {
        switch (dtype)
        {
            case DType.BF16: BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)w + start, destination.Length), destination); break;
            case DType.F32: new ReadOnlySpan<float>((float*)w + start, destination.Length).CopyTo(destination); break;
            case DType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)w + start, destination.Length), destination); break;
            default:
                var bytes = new ReadOnlySpan<byte>(w + dtype.ByteCount(start), checked((int)dtype.ByteCount(destination.Length)));
                Weights.Quants.BlockCodec.Dequantize(dtype, bytes, destination);
                break;
        }
    }
}

using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>A slice of steps of consecutive weight rows widened to float32, row-major, for <see cref="Gemm"/>.</summary>
internal static unsafe class WeightRows
{
    /// <summary>
    /// <c>dst[r, t] = W[r0 + r, t0 + t]</c> for r below <paramref name="rows"/>, t below <paramref name="steps"/>, W
    /// float32, float16, bf16 or FP8 (the block formats have their own integer products: <see cref="Linear"/>).
    /// </summary>
    public static void Widen(WeightTensor w, int k, int r0, int rows, int t0, int steps, float* dst)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = new Span<float>(dst + (long)r * steps, steps);
            if (w.DType == DType.F8_E4M3) // one byte a value, times the row's scale
                Weights.Quants.Fp8E4M3.Dequantize(new ReadOnlySpan<byte>(w.Data + (long)(r0 + r) * k + t0, steps), w.RowScales.Span[r0 + r], row);
            else Widen(w.Data, w.DType, (long)(r0 + r) * k + t0, row);
        }
    }

    /// <summary>
    /// Asks for the cache lines of a later slice (<see cref="Widen(WeightTensor, int, int, int, int, int, float*)"/>'s
    /// arguments), so that they arrive from memory while the kernel computes on the current one instead of the widening
    /// waiting for them: a prefill reads each weight from memory once, and that read showed as a sixth of its time.
    /// </summary>
    public static void Prefetch(byte* w, DType dtype, int k, int r0, int rows, int t0, int steps)
    {
        if (!Sse.IsSupported) return;
        long bytes = dtype.ByteCount(steps);
        for (int r = 0; r < rows; r++)
        {
            byte* start = w + dtype.ByteCount((long)(r0 + r) * k + t0);
            for (long b = 0; b < bytes; b += 64) Sse.Prefetch0(start + b);
        }
    }

    /// <summary>bf16 to float32 is a 16-bit shift: 16 values per 512-bit vector, from pointers (the span helper's per-call overhead showed).</summary>
    private static void WidenBFloat16(ushort* w, Span<float> destination)
    {
        int i = 0, n = destination.Length;
        fixed (float* dst = destination)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16)
                    (Vector512.WidenLower(Vector256.Load(w + i).ToVector512Unsafe()) << 16).AsSingle().Store(dst + i);
            for (; i < n; i++) dst[i] = BFloat16.ToSingle(w[i]);
        }
    }

    private static void Widen(byte* w, DType dtype, long start, Span<float> destination)
    {
        switch (dtype)
        {
            case DType.BF16: WidenBFloat16((ushort*)w + start, destination); break;
            case DType.F32: new ReadOnlySpan<float>((float*)w + start, destination.Length).CopyTo(destination); break;
            case DType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)w + start, destination.Length), destination); break;
            default: throw new ArgumentException($"no float32 widening for {dtype} weights");
        }
    }
}

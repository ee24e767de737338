using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Bamba.Numerics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Dot products of bf16 weight rows with float32 vectors, widening in registers (bf16 → f32 is a 16-bit shift) so
/// the weights stream from memory once with no float32 copy: the inner loop of CPU decode.
/// </summary>
public static unsafe class BFloat16Dot
{
    /// <summary><c>Σ_i bf16(w[i]) · x[i]</c> over k elements.</summary>
    public static float Dot(ushort* w, float* x, int k)
    {
        int i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && k >= 32)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; i + 32 <= k; i += 32)
            {
                var (lo, hi) = Widen512(w + i);
                a0 = Vector512.FusedMultiplyAdd(lo, Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(hi, Vector512.Load(x + i + 16), a1);
            }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && k >= 16)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; i + 16 <= k; i += 16)
            {
                var (lo, hi) = Widen256(w + i);
                a0 = Vector256.FusedMultiplyAdd(lo, Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(hi, Vector256.Load(x + i + 8), a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < k; i++) sum += BFloat16.ToSingle(w[i]) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>) Widen512(ushort* p)
    {
        var (lo, hi) = Vector512.Widen(Vector512.Load(p));
        return ((lo << 16).AsSingle(), (hi << 16).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) Widen256(ushort* p)
    {
        var (lo, hi) = Vector256.Widen(Vector256.Load(p));
        return ((lo << 16).AsSingle(), (hi << 16).AsSingle());
    }
}

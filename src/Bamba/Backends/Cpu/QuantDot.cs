using System.Runtime.Intrinsics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One quantized weight row dotted with one float32 input row, the blocks expanded in registers (no float copy of
/// the row): Q8_0 with 256-bit vectors where the CPU has them, a scalar loop otherwise. The other block formats go
/// through <see cref="QuantGemv"/>'s expand-then-dot path.
/// </summary>
internal static unsafe class QuantDot
{
    public static bool Supports(DType t) => t == DType.Q8_0;

    public static float Dot(DType t, byte* row, float* x, int k) => t switch
    {
        DType.Q8_0 => Vector256.IsHardwareAccelerated ? Q8_0Vector(row, x, k) : Q8_0Scalar(row, x, k),
        _ => throw new ArgumentException($"no fused dot for {t}"),
    };

    internal static float Q8_0Scalar(byte* row, float* x, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / 32; b++, row += 34, x += 32)
        {
            float d = (float)*(Half*)row, block = 0;
            sbyte* q = (sbyte*)(row + 2);
            for (int j = 0; j < 32; j++) block += q[j] * x[j];
            sum += d * block;
        }
        return sum;
    }

    private static float Q8_0Vector(byte* row, float* x, int k)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < k / 32; b++, row += 34, x += 32)
        {
            var q = Vector256.Load((sbyte*)(row + 2));
            var (lo, hi) = Vector256.Widen(q);
            var (a, bq) = Vector256.Widen(lo);
            var (c, dq) = Vector256.Widen(hi);
            var s = Vector256.ConvertToSingle(a) * Vector256.Load(x)
                + Vector256.ConvertToSingle(bq) * Vector256.Load(x + 8)
                + Vector256.ConvertToSingle(c) * Vector256.Load(x + 16)
                + Vector256.ConvertToSingle(dq) * Vector256.Load(x + 24);
            acc += s * Vector256.Create((float)*(Half*)row);
        }
        return Vector256.Sum(acc);
    }
}

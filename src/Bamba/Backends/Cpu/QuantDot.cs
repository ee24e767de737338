using System.Runtime.Intrinsics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One Q8_0 or Q4_0 weight row dotted with one float32 input row (already rounded as llama.cpp's Q8_0 activations),
/// the blocks expanded in registers (no float copy of the row): 256-bit vectors on the AVX2 and AVX-512 paths (a
/// 32-value block fills one), a scalar loop otherwise. The K-quants go through <see cref="KQuantDot"/>.
/// </summary>
internal static unsafe class QuantDot
{
    private const int Q8Bytes = 34, Q4Bytes = 18;

    public static bool Supports(DType t) => t is DType.Q8_0 or DType.Q4_0;

    public static float Dot(DType t, byte* row, float* x, int k, CpuInstructionSet set) => (t, set) switch
    {
        (DType.Q8_0, CpuInstructionSet.Scalar) => Q8_0Scalar(row, x, k),
        (DType.Q8_0, _) => Q8_0Vector(row, x, k),
        (DType.Q4_0, CpuInstructionSet.Scalar) => Q4_0Scalar(row, x, k),
        (DType.Q4_0, _) => Q4_0Vector(row, x, k),
        _ => throw new ArgumentException($"no fused dot for {t}"),
    };

    internal static float Q8_0Scalar(byte* row, float* x, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / 32; b++, row += Q8Bytes, x += 32)
        {
            float d = (float)*(Half*)row, block = 0;
            sbyte* q = (sbyte*)(row + 2);
            for (int j = 0; j < 32; j++) block += q[j] * x[j];
            sum += d * block;
        }
        return sum;
    }

    /// <summary>block_q4_0: fp16 d, then 16 bytes whose low nibbles are values 0..15 and high nibbles 16..31, x = d·(q − 8).</summary>
    internal static float Q4_0Scalar(byte* row, float* x, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / 32; b++, row += Q4Bytes, x += 32)
        {
            float d = (float)*(Half*)row, block = 0;
            byte* q = row + 2;
            for (int j = 0; j < 16; j++) block += ((q[j] & 0xF) - 8) * x[j] + ((q[j] >> 4) - 8) * x[j + 16];
            sum += d * block;
        }
        return sum;
    }

    private static float Q8_0Vector(byte* row, float* x, int k)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < k / 32; b++, row += Q8Bytes, x += 32)
            acc += BlockDot(Vector256.Load((sbyte*)(row + 2)), x) * Vector256.Create((float)*(Half*)row);
        return Vector256.Sum(acc);
    }

    private static float Q4_0Vector(byte* row, float* x, int k)
    {
        var acc = Vector256<float>.Zero;
        var low4 = Vector128.Create((byte)0xF);
        for (int b = 0; b < k / 32; b++, row += Q4Bytes, x += 32)
        {
            var q = Vector128.Load(row + 2);
            var values = Vector256.Create(q & low4, Vector128.ShiftRightLogical(q, 4)).AsSByte() - Vector256.Create((sbyte)8);
            acc += BlockDot(values, x) * Vector256.Create((float)*(Half*)row);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>32 signed bytes widened to float and multiplied with x[0..32), in 8 partial sums.</summary>
    private static Vector256<float> BlockDot(Vector256<sbyte> q, float* x)
    {
        var (lo, hi) = Vector256.Widen(q);
        var (a, b) = Vector256.Widen(lo);
        var (c, d) = Vector256.Widen(hi);
        return Vector256.ConvertToSingle(a) * Vector256.Load(x)
            + Vector256.ConvertToSingle(b) * Vector256.Load(x + 8)
            + Vector256.ConvertToSingle(c) * Vector256.Load(x + 16)
            + Vector256.ConvertToSingle(d) * Vector256.Load(x + 24);
    }
}

using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>One input row quantized to Q8_0 blocks for the decode dots: 32 signed bytes and one float scale a block.</summary>
internal readonly unsafe struct Q8_0Activations(sbyte* q, float* d)
{
    public sbyte* Q { get; } = q;
    public float* D { get; } = d;
}

/// <summary>
/// One Q8_0 or Q4_0 weight row dotted with one input row quantized to Q8_0 blocks (<see cref="Q8_0Inputs.QuantizeSigned"/>),
/// in integers as llama.cpp's ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0: per block the exact Σ q_w·q_x, times d_w·d_x. The
/// vector path (AVX2, also under AVX-512: a 32-value block fills 256 bits) multiplies |q_w| by q_x carrying q_w's sign
/// (vpsignb) with vpmaddubsw, then vpmaddwd, and keeps 8 float partial sums; the scalar loop is the reference. The
/// K-quants go through <see cref="KQuantDot"/>.
/// </summary>
internal static unsafe class QuantDot
{
    private const int Q8Bytes = 34, Q4Bytes = 18;

    public static bool Supports(DType t) => t is DType.Q8_0 or DType.Q4_0;

    public static float Dot(DType t, byte* row, Q8_0Activations x, int k, CpuInstructionSet set) => (t, set) switch
    {
        (DType.Q8_0, CpuInstructionSet.Scalar) => Q8_0Scalar(row, x, k),
        (DType.Q8_0, _) => Q8_0Vector(row, x, k),
        (DType.Q4_0, CpuInstructionSet.Scalar) => Q4_0Scalar(row, x, k),
        (DType.Q4_0, _) => Q4_0Vector(row, x, k),
        _ => throw new ArgumentException($"no fused dot for {t}"),
    };

    internal static float Q8_0Scalar(byte* row, Q8_0Activations x, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / 32; b++, row += Q8Bytes)
        {
            sbyte* q = (sbyte*)(row + 2), y = x.Q + 32 * b;
            int block = 0;
            for (int j = 0; j < 32; j++) block += q[j] * y[j];
            sum += block * (QuantMath.Half(row) * x.D[b]);
        }
        return sum;
    }

    /// <summary>block_q4_0: fp16 d, then 16 bytes whose low nibbles are values 0..15 and high nibbles 16..31, x = d·(q − 8).</summary>
    internal static float Q4_0Scalar(byte* row, Q8_0Activations x, int k)
    {
        float sum = 0;
        for (int b = 0; b < k / 32; b++, row += Q4Bytes)
        {
            byte* q = row + 2;
            sbyte* y = x.Q + 32 * b;
            int block = 0;
            for (int j = 0; j < 16; j++) block += ((q[j] & 0xF) - 8) * y[j] + ((q[j] >> 4) - 8) * y[j + 16];
            sum += block * (QuantMath.Half(row) * x.D[b]);
        }
        return sum;
    }

    private static float Q8_0Vector(byte* row, Q8_0Activations x, int k)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < k / 32; b++, row += Q8Bytes)
            acc = Fma.MultiplyAdd(BlockDot(Vector256.Load((sbyte*)(row + 2)), x.Q + 32 * b), Vector256.Create(QuantMath.Half(row) * x.D[b]), acc);
        return Vector256.Sum(acc);
    }

    private static float Q4_0Vector(byte* row, Q8_0Activations x, int k)
    {
        var acc = Vector256<float>.Zero;
        var low4 = Vector128.Create((byte)0xF);
        for (int b = 0; b < k / 32; b++, row += Q4Bytes)
        {
            var q = Vector128.Load(row + 2);
            var values = Vector256.Create(q & low4, Vector128.ShiftRightLogical(q, 4)).AsSByte() - Vector256.Create((sbyte)8);
            acc = Fma.MultiplyAdd(BlockDot(values, x.Q + 32 * b), Vector256.Create(QuantMath.Half(row) * x.D[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Σ w·y over 32 signed bytes, exact, in 8 int32 partial sums converted to float.</summary>
    private static Vector256<float> BlockDot(Vector256<sbyte> w, sbyte* y)
    {
        var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(Vector256.Load(y), w)); // |w|·(±y): at most 2·128·127
        return Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1)));
    }
}

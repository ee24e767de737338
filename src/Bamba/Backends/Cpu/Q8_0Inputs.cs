using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Input rows quantized as llama.cpp's x86 quantize_row_q8_0 does for Q8_0 and Q4_0 weights, per block of 32:
/// d = amax/127 stored as fp16, q = x·(127/amax) rounded half to even, stored biased (q + 128, 1..255) in the layout of
/// <see cref="Q8_0Interleaved"/>: the unsigned operand of the tiles' byte multiply-adds.
/// </summary>
internal static unsafe class Q8_0Inputs
{
    /// <summary>A zero value, biased.</summary>
    public const byte Zero = 128;

    [ThreadStatic] private static byte[]? _q;
    [ThreadStatic] private static float[]? _d;

    /// <summary>Room for <paramref name="n"/> rows of <paramref name="k"/> values, this thread's, valid until its next call.</summary>
    public static Q8_0Interleaved Rent(int n, int k) => Q8_0Interleaved.Rent(ref _q, ref _d, n, k, Zero);

    /// <summary>Quantizes <paramref name="k"/> values into <paramref name="row"/>: 256-bit vectors when
    /// <paramref name="vector"/>, the scalar reference otherwise, the same bytes and scales either way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
    public static void Quantize(float* x, int k, Q8_0Interleaved row, bool vector)
    {
        int blocks = k / Q8_0Interleaved.Block;
        byte* staged = stackalloc byte[Q8_0Interleaved.GroupBytes];
        for (int g = 0; g < row.Groups; g++)
        {
            int count = Math.Min(Q8_0Interleaved.GroupBlocks, blocks - g * Q8_0Interleaved.GroupBlocks);
            for (int j = 0; j < count; j++)
            {
                float* block = x + (g * Q8_0Interleaved.GroupBlocks + j) * Q8_0Interleaved.Block;
                float* d = row.D + g * Q8_0Interleaved.GroupBlocks + j;
                if (!vector || !QuantizeBlock256(block, staged + j * Q8_0Interleaved.Block, d)) QuantizeBlock(block, staged + j * Q8_0Interleaved.Block, d);
            }
            row.Store(g, staged, count, vector);
        }
    }

    /// <summary>
    /// Quantizes <paramref name="k"/> values as <see cref="Quantize"/> does, into plain signed blocks (32 bytes
    /// <paramref name="q"/> and one scale <paramref name="d"/> a block, in order): the decode dots' operand
    /// (<see cref="QuantDot"/>).
    /// </summary>
    public static void QuantizeSigned(float* x, int k, sbyte* q, float* d, bool vector)
    {
        for (int b = 0; b < k / Q8_0Interleaved.Block; b++)
        {
            float* block = x + b * Q8_0Interleaved.Block;
            byte* bytes = (byte*)q + b * Q8_0Interleaved.Block;
            if (!vector || !QuantizeBlock256(block, bytes, d + b)) QuantizeBlock(block, bytes, d + b);
            for (int j = 0; j < Q8_0Interleaved.Block; j += 8) *(ulong*)(bytes + j) ^= 0x8080808080808080; // q + 128 back to q
        }
    }

    /// <summary>The scalar reference. A NaN spreads to amax and d (the products come out NaN, as the float path's).</summary>
    private static void QuantizeBlock(float* x, byte* q, float* d)
    {
        float amax = 0;
        for (int j = 0; j < Q8_0Interleaved.Block; j++) amax = Math.Max(amax, MathF.Abs(x[j]));
        float id = amax != 0 ? 127f / amax : 0f;
        *d = (float)(Half)(amax / 127f);
        for (int j = 0; j < Q8_0Interleaved.Block; j++) q[j] = (byte)((int)MathF.Round(x[j] * id, MidpointRounding.ToEven) + Zero);
    }

    /// <summary>
    /// <see cref="QuantizeBlock"/> with 8 values per instruction: the same multiply, and the same rounding (the add of
    /// 1.5·2²³ leaves the nearest integer, ties to even, in the low mantissa bits). False for a block whose amax is 0
    /// or not finite: the scalar loop decides those.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool QuantizeBlock256(float* x, byte* q, float* d)
    {
        Vector256<float> x0 = Vector256.Load(x), x1 = Vector256.Load(x + 8), x2 = Vector256.Load(x + 16), x3 = Vector256.Load(x + 24);
        var magnitude = Vector256.Max(Vector256.Max(Vector256.Abs(x0), Vector256.Abs(x1)), Vector256.Max(Vector256.Abs(x2), Vector256.Abs(x3)));
        var half = Vector128.Max(magnitude.GetLower(), magnitude.GetUpper());
        float amax = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
        if (amax == 0 || !float.IsFinite(amax)) return false;
        var id = Vector256.Create(127f / amax);
        *d = (float)(Half)(amax / 127f);
        var words = Vector256.Narrow(Vector256.Narrow(Biased(x0 * id), Biased(x1 * id)), Vector256.Narrow(Biased(x2 * id), Biased(x3 * id)));
        words.AsByte().Store(q);
        return true;
    }

    /// <summary>Nearest integer (ties to even) plus <see cref="Zero"/>, per lane, for |v| ≤ 127.</summary>
    private static Vector256<int> Biased(Vector256<float> v) =>
        ((v + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000 - Zero);
}

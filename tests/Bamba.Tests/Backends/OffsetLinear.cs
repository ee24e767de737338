using Bamba.Backends.Cpu;
using Bamba.Weights;

namespace Bamba.Tests.Backends;

/// <summary>The quantized prefill tests' call: <c>Linear.Forward</c> on one instruction set, over operands that start off alignment.</summary>
internal static unsafe class OffsetLinear
{
    /// <summary>
    /// Linear over the weight stored <paramref name="offset"/> bytes into <paramref name="blocks"/>, with x and y
    /// <paramref name="offset"/> floats into theirs; the floats of y before the offset must stay untouched.
    /// </summary>
    public static float[] Forward(CpuInstructionSet set, DType t, byte[] blocks, int offset, float[] x, int n, int m, int k, float[] bias)
    {
        var y = new float[offset + n * m];
        fixed (byte* p = blocks)
        {
            var w = new WeightTensor(new TensorInfo("w", "mem", t, [m, k], 0, t.ByteCount(m * k)), p + offset);
            InstructionSets.With(set, () => Linear.Forward(x.AsSpan(offset, n * k), n, w, bias, y.AsSpan(offset)));
        }
        Assert.Equal(new float[offset], y.AsSpan(0, offset).ToArray());
        return y.AsSpan(offset).ToArray();
    }
}

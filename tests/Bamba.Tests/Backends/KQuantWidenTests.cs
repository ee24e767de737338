using Bamba.Backends.Cpu;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Tests.Backends;

/// <summary>
/// The vector widening of K-quant blocks for the prefill GEMM (<see cref="KQuantWiden"/>) equals the scalar
/// dequantizer bit for bit on every instruction set the machine has: fully random bytes, so every bit pattern of the
/// fp16 scales (infinities and NaNs included), the packed 6-bit scales and minimums, the nibbles and the high bits;
/// 1 to 5 blocks, starting blocks into a buffer and off the buffer's alignment.
/// </summary>
[Collection(InstructionSets.Name)]
public unsafe class KQuantWidenTests
{
    public static TheoryData<CpuInstructionSet, DType> Cases()
    {
        var data = new TheoryData<CpuInstructionSet, DType>();
        foreach (var set in InstructionSets.Supported)
            foreach (var t in new[] { DType.Q4_K, DType.Q5_K, DType.Q6_K }) data.Add(set, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WideningEqualsTheScalarDequantizerBitForBit(CpuInstructionSet set, DType t)
    {
        var random = new Random(17 + (int)t * 3 + (int)set);
        for (int trial = 0; trial < 40; trial++)
        {
            int blocks = 1 + trial % 5, lead = trial % 3 * t.BlockBytes() + trial % 4; // whole blocks in, then off alignment
            var stored = new byte[lead + blocks * t.BlockBytes()];
            random.NextBytes(stored);
            var bytes = stored.AsSpan(lead);
            var expected = new float[blocks * 256];
            BlockCodec.Dequantize(t, bytes, expected);
            var actual = new float[expected.Length];
            bool vector = false;
            fixed (byte* p = stored)
            fixed (float* o = actual)
            {
                byte* src = p + lead;
                float* dst = o; // fixed locals cannot enter the lambda
                InstructionSets.With(set, () => vector = KQuantWiden.TryWiden(t, src, actual.Length, dst));
            }
            Assert.Equal(set != CpuInstructionSet.Scalar, vector);
            if (!vector) return; // the scalar set leaves the widening to the dequantizer itself
            for (int i = 0; i < expected.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"{set} {t} {blocks} blocks at {lead}, value {i}: scalar {expected[i]}, vector {actual[i]}");
        }
    }

    /// <summary>The GEMM's row widening takes the vector path for K-quant rows and writes each row's slice in place.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void WeightRowsWidenSlicesOfKQuantRowsExactly(CpuInstructionSet set, DType t)
    {
        const int rows = 3, k = 4 * 256;
        var random = new Random(5 + (int)t);
        var stored = new byte[t.ByteCount(rows * k)];
        random.NextBytes(stored);
        var all = new float[rows * k];
        BlockCodec.Dequantize(t, stored, all);
        var slice = new float[2 * 512];
        fixed (byte* p = stored)
        fixed (float* o = slice)
        {
            var w = new WeightTensor(new TensorInfo("w", "mem", t, [rows, k], 0, stored.Length), p);
            float* dst = o; // fixed locals cannot enter the lambda
            InstructionSets.With(set, () => WeightRows.Widen(w, k, 1, 2, 256, 512, dst));
        }
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 512; c++)
                Assert.True(BitConverter.SingleToInt32Bits(all[(1 + r) * k + 256 + c]) == BitConverter.SingleToInt32Bits(slice[r * 512 + c]),
                    $"{set} {t} row {1 + r} value {256 + c}");
    }
}

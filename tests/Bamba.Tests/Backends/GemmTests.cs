using Bamba.Backends.Cpu;
using Bamba.Weights;
using Xunit.Abstractions;

namespace Bamba.Tests.Backends;

/// <summary>
/// <see cref="Linear.Forward"/> (the blocked GEMM for many rows, the decode GEMV for up to four) on every instruction
/// set the machine has, against a double-precision loop: odd shapes, tails of the 6-row tile, of the panel width, of the
/// 256-step depth slice and of the row block, one row, one column, and operands starting off their natural alignment.
/// </summary>
[Collection(InstructionSets.Name)]
public unsafe class GemmTests(ITestOutputHelper output)
{
    private static readonly (DType DType, int N, int M, int K, int Offset)[] Shapes =
    [
        (DType.BF16, 5, 1, 1, 0), // one column, one step
        (DType.BF16, 6, 32, 256, 0), // exactly one tile, one panel, one depth slice
        (DType.BF16, 7, 33, 257, 1), // one row past the tile, a one-column panel, an odd last step
        (DType.BF16, 13, 65, 513, 3), // three depth slices, a partial panel
        (DType.BF16, 200, 40, 64, 0), // two row blocks
        (DType.BF16, 128, 100, 1000, 2),
        (DType.BF16, 1, 70, 129, 1), // one row: the decode path
        (DType.BF16, 4, 19, 65, 0),
        (DType.F32, 9, 31, 100, 2),
        (DType.F32, 12, 48, 40, 0),
        (DType.F16, 11, 17, 19, 1),
        (DType.F16, 2, 9, 300, 3),
        (DType.Q8_0, 7, 33, 64, 1), // GGUF block formats: Q8_0's integer tiles (Q8_0Gemm)
        (DType.Q4_K, 13, 5, 256, 0), // K-quants: the integer tiles of KQuantGemm
        (DType.BF16, 9, 47, 530, 1), // 16 x 16 transposes of the staging block: a partial panel, a 256-step slice and a tail past the last 16 steps
        (DType.F32, 8, 64, 272, 0), // two full panels, a second slice of 16 steps
        (DType.Q8_0, 10, 40, 544, 0), // 17 blocks: two whole groups of 8 and one of a single block
        (DType.Q4_K, 7, 33, 512, 2), // two 256-value superblocks per row
        (DType.Q6_K, 6, 9, 512, 1), // the other K-quants, unpacked for the tiles as Q4_K is
        (DType.Q5_K, 5, 7, 256, 0),
    ];

    public static TheoryData<CpuInstructionSet, DType, int, int, int, int> Cases()
    {
        var data = new TheoryData<CpuInstructionSet, DType, int, int, int, int>();
        foreach (var set in InstructionSets.Supported)
            foreach (var (dtype, n, m, k, offset) in Shapes) data.Add(set, dtype, n, m, k, offset);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LinearMatchesNaiveProductOnEveryInstructionSet(CpuInstructionSet set, DType dtype, int n, int m, int k, int offset)
    {
        var r = new Random(n * 7919 + m * 31 + k);
        var x = CpuKernelTests.RandomFloats(r, offset + n * k);
        var weights = CpuKernelTests.RandomFloats(r, m * k);
        var bias = CpuKernelTests.RandomFloats(r, m);
        var encoded = dtype.IsQuantized() ? Quantize(weights, dtype) : CpuKernelTests.Encode(weights, dtype);
        int lead = offset * (dtype.IsQuantized() ? 1 : dtype.Size()); // the weight starts `offset` elements (bytes for blocks) in
        var stored = new byte[lead + encoded.Length];
        encoded.CopyTo(stored, lead);
        var y = new float[offset + n * m];
        var widened = new float[m * k];
        fixed (byte* p = stored)
        {
            var w = new WeightTensor(new TensorInfo("w", "mem", dtype, [m, k], 0, encoded.Length), p + lead);
            w.ReadFloats(0, widened);
            InstructionSets.With(set, () => Linear.Forward(x.AsSpan(offset), n, w, bias, y.AsSpan(offset)));
        }
        // Against block-quantized weights the activations are quantized as llama.cpp's CPU backend does; that rounding
        // is Linear's defined input, so the reference takes the same rounded activations.
        var input = x.AsSpan(offset, n * k).ToArray();
        if (dtype.IsQuantized()) Bamba.Tests.Weights.ActivationQuant.RoundTrip(dtype, x.AsSpan(offset, n * k).ToArray(), input);
        var expected = new float[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double acc = bias[j];
                for (int t = 0; t < k; t++) acc += (double)input[i * k + t] * widened[j * k + t];
                expected[i * m + j] = (float)acc;
            }
        Tolerance.AssertClose(expected, y.AsSpan(offset).ToArray(), 1e-5, $"{set} {dtype} n={n} m={m} k={k} offset={offset}");
        Assert.Equal(new float[offset], y.AsSpan(0, offset).ToArray()); // nothing written before the output
    }

    private static byte[] Quantize(float[] v, DType dtype)
    {
        var bytes = new byte[dtype.ByteCount(v.Length)];
        Bamba.Weights.Quants.BlockCodec.Quantize(dtype, v, bytes);
        return bytes;
    }

    [Fact]
    public void ReportsTheInstructionSetsThisMachineLacks()
    {
        Assert.Contains(CpuInstructionSet.Scalar, InstructionSets.Supported);
        output.WriteLine($"instruction sets tested: {string.Join(", ", InstructionSets.Supported)}; not on this machine: {(InstructionSets.Missing is "" ? "none" : InstructionSets.Missing)}");
    }
}

using Bamba.Backends.Cpu;
using Bamba.Weights;
using Xunit.Abstractions;

namespace Bamba.Tests.Backends;

/// <summary>
/// The K-quant prefill in integers (<see cref="KQuantGemm"/>: unpacked rows, register tiles over Q8_K inputs) on every
/// instruction set the machine has: each output against decode's scalar dot (<see cref="KQuantDot"/>) over the same
/// Q8_K rows, on random block bytes (every bit pattern of the packed scales, minimums, nibbles and high bits, Q6_K's
/// negative scales); tails of the 8-row groups, of the 4- or 8-column tiles and of the 16-row chunk, two input-row
/// blocks, operands off their alignment. And <see cref="Linear"/>'s prefill rows equal its decode rows, one at a time.
/// </summary>
[Collection(InstructionSets.Name)]
public unsafe class KQuantPrefillTests(ITestOutputHelper output)
{
    private static readonly DType[] KQuants = [DType.Q4_K, DType.Q5_K, DType.Q6_K];

    private static readonly (int N, int M, int K, int Offset)[] Shapes =
    [
        (5, 1, 256, 0), // the fewest prefill rows, one weight row: 7 of the 8 unpacked rows zero, 3 of 8 columns aliased
        (8, 2, 512, 1), // one whole AVX-512 column tile, two whole AVX2 ones
        (7, 3, 768, 3), // a 7-column tail (AVX-512), a 3-column tail (AVX2), 3 of the 4 rows of AVX2's first half
        (13, 17, 256, 2), // a second chunk of one weight row
        (6, 12, 512, 1), // one chunk of 12 weight rows: 8 and a second group of 4
        (33, 34, 512, 0), // three chunks, the last of two rows
        (130, 3, 4096, 1), // 532 KiB of Q8_K inputs: two input-row blocks
    ];

    public static TheoryData<CpuInstructionSet, DType, int, int, int, int> Cases()
    {
        var data = new TheoryData<CpuInstructionSet, DType, int, int, int, int>();
        foreach (var set in InstructionSets.Supported)
            foreach (var t in KQuants)
                foreach (var (n, m, k, offset) in Shapes) data.Add(set, t, n, m, k, offset);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PrefillEqualsTheScalarDotOfEveryPair(CpuInstructionSet set, DType t, int n, int m, int k, int offset)
    {
        var r = new Random(n * 31 + m * 7 + k + (int)t);
        var blocks = QuantDecodeTests.RandomBlocks(r, t, m * k, offset);
        var x = CpuKernelTests.RandomFloats(r, offset + n * k);
        x[offset + 5] = 4f; // one large activation: its block quantizes mostly to small levels
        x.AsSpan(offset + k, Math.Min(256, (n - 1) * k)).Clear(); // an all-zero block: d = 0
        var bias = CpuKernelTests.RandomFloats(r, m);
        var expected = new float[n * m];
        long rowBytes = t.ByteCount(k);
        fixed (byte* p = blocks)
        fixed (float* px = x)
            for (int i = 0; i < n; i++)
            {
                var q8 = QuantDecodeTests.Q8KOffCenter(px + offset + (long)i * k, k, 0, out var pins);
                for (int j = 0; j < m; j++)
                    expected[i * m + j] = KQuantDot.Dot(t, p + offset + j * rowBytes, q8, k, CpuInstructionSet.Scalar) + bias[j];
                GC.KeepAlive(pins);
            }
        var y = OffsetLinear.Forward(set, t, blocks, offset, x, n, m, k, bias);
        Tolerance.AssertClose(expected, y, 1e-6, $"{set} {t} n={n} m={m} k={k} offset={offset}");
    }

    [Theory]
    [MemberData(nameof(InstructionSets.All), MemberType = typeof(InstructionSets))]
    public void PrefillRowsEqualDecodeRows(CpuInstructionSet set)
    {
        const int n = 9, m = 21, k = 512;
        foreach (var t in KQuants)
        {
            var r = new Random(41 + (int)t);
            var blocks = QuantDecodeTests.RandomBlocks(r, t, m * k, 0);
            var x = CpuKernelTests.RandomFloats(r, n * k);
            var bias = CpuKernelTests.RandomFloats(r, m);
            var prefill = OffsetLinear.Forward(set, t, blocks, 0, x, n, m, k, bias);
            var decode = new float[n * m];
            for (int i = 0; i < n; i++)
                OffsetLinear.Forward(set, t, blocks, 0, x.AsSpan(i * k, k).ToArray(), 1, m, k, bias).CopyTo(decode, i * m);
            Tolerance.AssertClose(decode, prefill, 1e-6, $"{set} {t}: prefill rows against decode rows");
        }
    }

    [Fact]
    public void ReportsTheInstructionSetsTested() =>
        output.WriteLine($"K-quant prefill tiles tested on: {string.Join(", ", InstructionSets.Supported)}; " +
            $"not on this machine: {(InstructionSets.Missing is "" ? "none" : InstructionSets.Missing)}; " +
            $"AVX-512BW (the 512-bit tile): {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported}");
}

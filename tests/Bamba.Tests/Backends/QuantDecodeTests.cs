using Bamba.Backends.Cpu;
using Bamba.Tests.Modeling;
using Bamba.Tests.Weights;
using Bamba.Weights;
using Bamba.Weights.Quants;
using Xunit.Abstractions;

namespace Bamba.Tests.Backends;

/// <summary>
/// Decode's quantized dot products (<see cref="KQuantDot"/> over Q8_K activations, <see cref="QuantDot"/> for Q8_0 and
/// Q4_0) on every instruction set the machine has: each kernel against the scalar loop, the scalar loop against the
/// bit-exact dequantizer (<see cref="BlockCodec"/>), and <see cref="Linear"/>'s decode rows against a double-precision
/// product, over random block bytes (every bit pattern of scales, nibbles and high bits), odd row counts, one row, one
/// block, and operands off their natural alignment.
/// </summary>
[Collection(InstructionSets.Name)]
public unsafe class QuantDecodeTests(ITestOutputHelper output)
{
    private static readonly DType[] KQuants = [DType.Q4_K, DType.Q5_K, DType.Q6_K];
    private static readonly DType[] Types = [.. KQuants, DType.Q8_0, DType.Q4_0];

    public static TheoryData<CpuInstructionSet, DType, int, int> KernelCases()
    {
        var data = new TheoryData<CpuInstructionSet, DType, int, int>();
        foreach (var set in InstructionSets.Supported)
            foreach (var t in Types)
                foreach (var (k, offset) in new[] { (256, 0), (768, 1), (1280, 3) }) data.Add(set, t, k, offset);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelCases))]
    public void KernelsEqualTheScalarLoopAndTheDequantizer(CpuInstructionSet set, DType t, int k, int offset)
    {
        const int rows = 5;
        var r = new Random(k * 13 + (int)t + offset);
        var blocks = RandomBlocks(r, t, rows * k, offset);
        var x = CpuKernelTests.RandomFloats(r, offset + k);
        x[offset + 7] = 3f; // one large activation: most others quantize to small levels, one to ±127
        var expected = new float[rows];
        var scalar = new float[rows];
        var kernel = new float[rows];
        long rowBytes = t.ByteCount(k);
        var dequantized = new float[k];
        var activations = ActivationValues(t, x.AsSpan(offset, k).ToArray());
        fixed (byte* p = blocks)
        fixed (float* px = x)
        {
            var q8 = Q8KOffCenter(px + offset, k, offset, out var pins);
            for (int i = 0; i < rows; i++)
            {
                byte* row = p + offset + i * rowBytes;
                BlockCodec.Dequantize(t, new ReadOnlySpan<byte>(row, (int)rowBytes), dequantized);
                double sum = 0;
                for (int j = 0; j < k; j++) sum += (double)dequantized[j] * activations[j];
                expected[i] = (float)sum;
                scalar[i] = Dot(t, row, px + offset, q8, k, CpuInstructionSet.Scalar);
                kernel[i] = Dot(t, row, px + offset, q8, k, set);
            }
            GC.KeepAlive(pins);
        }
        Tolerance.AssertClose(expected, scalar, 1e-5, $"scalar {t} k={k} against the dequantizer");
        Tolerance.AssertClose(scalar, kernel, 1e-6, $"{set} {t} k={k} offset={offset} against the scalar loop");
    }

    private static bool KQuant(DType t) => KQuantDot.Supports(t);

    /// <summary>The row's dot as decode computes it: against Q8_K activations for the K-quants, Q8_0 blocks for the others.</summary>
    private static float Dot(DType t, byte* row, float* x, Q8KRow q8, int k, CpuInstructionSet set)
    {
        if (KQuant(t)) return KQuantDot.Dot(t, row, q8, k, set);
        var q = new sbyte[k];
        var d = new float[k / 32];
        fixed (sbyte* pq = q)
        fixed (float* pd = d)
        {
            Q8_0Inputs.QuantizeSigned(x, k, pq, pd, vector: true);
            return QuantDot.Dot(t, row, new Q8_0Activations(pq, pd), k, set);
        }
    }

    /// <summary>The activations each format multiplies: Q8_K values for the K-quants, Q8_0-rounded for Q8_0 and Q4_0.</summary>
    private static float[] ActivationValues(DType t, float[] x)
    {
        var y = new float[x.Length];
        ActivationQuant.RoundTrip(t, x, y);
        return y;
    }

    /// <summary>
    /// Random bytes for every block (all bit patterns of the packed scales, nibbles and high bits) with small finite fp16
    /// scales in place of the random ones, <paramref name="offset"/> bytes into the buffer.
    /// </summary>
    internal static byte[] RandomBlocks(Random r, DType t, int count, int offset)
    {
        var bytes = new byte[offset + t.ByteCount(count)];
        r.NextBytes(bytes);
        var (size, scaleAt) = t switch
        {
            DType.Q4_K => (144, new[] { 0, 2 }),
            DType.Q5_K => (176, new[] { 0, 2 }),
            DType.Q6_K => (210, new[] { 208 }),
            DType.Q8_0 => (34, new[] { 0 }),
            _ => (18, new[] { 0 }),
        };
        for (int b = offset; b < bytes.Length; b += size)
            foreach (int at in scaleAt) BitConverter.TryWriteBytes(bytes.AsSpan(b + at), (Half)(0.001 + 0.01 * r.NextDouble()));
        return bytes;
    }

    /// <summary>x as Q8_K blocks whose three arrays start <paramref name="offset"/> elements into their buffers.</summary>
    internal static Q8KRow Q8KOffCenter(float* x, int k, int offset, out object pins)
    {
        var q = GC.AllocateArray<sbyte>(offset + k, pinned: true);
        var d = GC.AllocateArray<float>(offset + k / 256, pinned: true);
        var sums = GC.AllocateArray<short>(offset + k / 16, pinned: true);
        pins = (q, d, sums);
        fixed (sbyte* pq = q) fixed (float* pd = d) fixed (short* ps = sums)
        {
            var row = new Q8KRow(pq + offset, pd + offset, ps + offset);
            Q8KRow.Quantize(x, k, row);
            return row;
        }
    }

    [Fact]
    public void Q8KRowsHoldTheRoundTripValuesAndTheirSums()
    {
        const int k = 768;
        var x = CpuKernelTests.RandomFloats(new Random(3), k);
        x.AsSpan(256, 256).Clear(); // an all-zero block: d = 0, no division by zero
        var rounded = ActivationValues(DType.Q4_K, x);
        fixed (float* px = x)
        {
            var row = Q8KOffCenter(px, k, 0, out var pins);
            for (int j = 0; j < k; j++) Assert.Equal(rounded[j], row.Q[j] * row.D[j / 256]);
            for (int s = 0; s < k / 16; s++)
            {
                int sum = 0;
                for (int j = 0; j < 16; j++) sum += row.Q[16 * s + j];
                Assert.Equal(sum, row.Sums[s]);
            }
            GC.KeepAlive(pins);
        }
    }

    [Theory]
    [MemberData(nameof(InstructionSets.All), MemberType = typeof(InstructionSets))]
    public void Q8KQuantizationEqualsTheScalarReferenceBitForBit(CpuInstructionSet set)
    {
        const int k = 256 * 7;
        var x = CpuKernelTests.RandomFloats(new Random(11), k, 3f);
        x.AsSpan(256, 256).Clear(); // all zero: d = 0
        x[512 + 40] = -5f; x[512 + 200] = 5f; // the same magnitude twice: the first, negative, sets the sign of d
        x[768 + 3] = float.NaN; // the scalar loop's comparisons skip it; the vector path hands such blocks to that loop
        x[1024 + 9] = float.PositiveInfinity;
        for (int j = 0; j < 256; j++) x[1280 + j] = (j - 128) * 0.5f; // levels at exact midpoints: rounded to even
        x[1536 + 255] = 1e-30f; // one tiny value, the rest of that block zero
        x.AsSpan(1536, 255).Clear();
        var (scalarQ, scalarD, scalarSums) = Quantized(x, CpuInstructionSet.Scalar);
        var (q, d, sums) = Quantized(x, set);
        Assert.Equal(scalarQ, q);
        Assert.Equal(scalarD.Select(BitConverter.SingleToInt32Bits), d.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(scalarSums, sums);
    }

    private static (sbyte[] Q, float[] D, short[] Sums) Quantized(float[] x, CpuInstructionSet set)
    {
        int k = x.Length;
        var q = new sbyte[k];
        var d = new float[k / 256];
        var sums = new short[k / 16];
        fixed (float* px = x) fixed (sbyte* pq = q) fixed (float* pd = d) fixed (short* ps = sums)
            Q8KRow.Quantize(px, k, new Q8KRow(pq, pd, ps), set);
        return (q, d, sums);
    }

    private static readonly (int N, int M, int K, int Offset)[] Shapes =
    [
        (1, 1, 256, 0), // one row, one column of blocks
        (1, 7, 768, 1),
        (3, 33, 512, 3), // odd row count, misaligned operands
        (4, 5, 1280, 2),
    ];

    public static TheoryData<CpuInstructionSet, DType, int, int, int, int> LinearCases()
    {
        var data = new TheoryData<CpuInstructionSet, DType, int, int, int, int>();
        foreach (var set in InstructionSets.Supported)
            foreach (var t in Types)
                foreach (var (n, m, k, offset) in Shapes) data.Add(set, t, n, m, k, offset);
        return data;
    }

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void LinearDecodeRowsMatchTheDequantizedProduct(CpuInstructionSet set, DType t, int n, int m, int k, int offset)
    {
        var r = new Random(n * 101 + m * 7 + k + (int)t);
        var weights = CpuKernelTests.RandomFloats(r, m * k);
        var x = CpuKernelTests.RandomFloats(r, offset + n * k);
        var bias = CpuKernelTests.RandomFloats(r, m);
        var stored = new byte[offset + t.ByteCount(m * k)];
        BlockCodec.Quantize(t, weights, stored.AsSpan(offset));
        var dequantized = new float[m * k];
        BlockCodec.Dequantize(t, stored.AsSpan(offset), dequantized);
        var activations = ActivationValues(t, x.AsSpan(offset, n * k).ToArray());
        var y = new float[offset + n * m];
        fixed (byte* p = stored)
        {
            var w = new WeightTensor(new TensorInfo("w", "mem", t, [m, k], 0, stored.Length - offset), p + offset);
            InstructionSets.With(set, () => Linear.Forward(x.AsSpan(offset), n, w, bias, y.AsSpan(offset)));
        }
        var expected = new float[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double acc = bias[j];
                for (int s = 0; s < k; s++) acc += (double)activations[i * k + s] * dequantized[j * k + s];
                expected[i * m + j] = (float)acc;
            }
        Tolerance.AssertClose(expected, y.AsSpan(offset).ToArray(), 1e-5, $"{set} {t} n={n} m={m} k={k} offset={offset}");
        Assert.Equal(new float[offset], y.AsSpan(0, offset).ToArray());
    }

    [Fact]
    public void ReportsTheInstructionSetsTested()
    {
        output.WriteLine($"quantized decode kernels tested on: {string.Join(", ", InstructionSets.Supported)}; " +
            $"not on this machine: {(InstructionSets.Missing is "" ? "none" : InstructionSets.Missing)}; " +
            $"AVX-512BW (the 512-bit K-quant kernels): {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported}");
        Assert.Contains(CpuInstructionSet.Scalar, InstructionSets.Supported);
    }
}

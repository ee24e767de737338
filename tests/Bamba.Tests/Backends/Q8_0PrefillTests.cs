using Bamba.Backends.Cpu;
using Bamba.Tests.Weights;
using Bamba.Weights;
using Bamba.Weights.Quants;
using Xunit.Abstractions;

namespace Bamba.Tests.Backends;

/// <summary>
/// The Q8_0/Q4_0 prefill in integers (<see cref="Q8_0Gemm"/>) on every instruction set the machine has, forced as the
/// other kernel tests force them:
/// - against the definition, written here from llama.cpp's blocks (x86 quantize_row_q8_0, ggml_vec_dot_q8_0_q8_0:
///   Σ_b fl(d_w·d_a) · Σ q_w·q_a), computed exactly, within the rounding of its float sum (bound derived below);
/// - every path's bits against the scalar path's (they round the same operations in the same order);
/// - against the float product over the unquantized inputs, within the error the input quantization can make;
/// - the quantized inputs against <see cref="ActivationQuant.RoundTrip"/>, value for value.
/// Shapes: weight rows not a multiple of the 2-row tile or the 16-row chunk, input rows not a multiple of the 4- or
/// 2-column tile, k a multiple of 32 but not of 256 (a padded group of 8 blocks), two input-row blocks, unaligned operands.
/// </summary>
[Collection(InstructionSets.Name)]
public unsafe class Q8_0PrefillTests(ITestOutputHelper output)
{
    private static readonly DType[] Formats = [DType.Q8_0, DType.Q4_0];

    private static readonly (int N, int M, int K, int Offset)[] Shapes =
    [
        (5, 1, 32, 0), // the fewest prefill rows, one weight row, one block: every tile operand but one aliased
        (8, 2, 256, 1), // whole tiles, one whole group
        (7, 3, 96, 3), // an odd weight row, a 3-column (VNNI) or 1-column (AVX2) tail, a group of 3 blocks
        (13, 17, 288, 2), // a second chunk of one weight row; a whole group and one of a single block
        (33, 34, 544, 0), // three chunks, the last of two rows; 17 blocks
        (130, 3, 4096, 1), // 585 KiB of quantized inputs: two input-row blocks
    ];

    public static TheoryData<DType, int, int, int, int> Cases()
    {
        var data = new TheoryData<DType, int, int, int, int>();
        foreach (var t in Formats)
            foreach (var (n, m, k, offset) in Shapes) data.Add(t, n, m, k, offset);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryPathGivesTheDefinitionWithTheScalarPathsBits(DType t, int n, int m, int k, int offset)
    {
        var r = new Random(n * 31 + m * 7 + k + (int)t);
        var blocks = QuantDecodeTests.RandomBlocks(r, t, m * k, offset);
        var x = Inputs(r, n, k, offset);
        var bias = CpuKernelTests.RandomFloats(r, m);
        var scalar = Forward(CpuInstructionSet.Scalar, t, blocks, offset, x, n, m, k, bias);
        var (exact, bound) = Definition(t, blocks.AsSpan(offset), x.AsSpan(offset), n, m, k, bias);
        for (int i = 0; i < n * m; i++)
            Assert.True(Math.Abs(scalar[i] - exact[i]) <= bound[i], $"{t} n={n} m={m} k={k} [{i}]: scalar {scalar[i]} vs exact {exact[i]} (bound {bound[i]:E2})");
        foreach (var set in InstructionSets.Supported)
        {
            var y = Forward(set, t, blocks, offset, x, n, m, k, bias);
            for (int i = 0; i < n * m; i++)
                Assert.True(BitConverter.SingleToInt32Bits(scalar[i]) == BitConverter.SingleToInt32Bits(y[i]),
                    $"{set} {t} n={n} m={m} k={k} offset={offset} [{i}]: {y[i]} vs the scalar path's {scalar[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(InstructionSets.All), MemberType = typeof(InstructionSets))]
    public void MatchesTheFloatProductWithinTheInputQuantizationError(CpuInstructionSet set)
    {
        const int n = 11, m = 9, k = 800; // 25 blocks: three whole groups and one of a single block
        foreach (var t in Formats)
        {
            var r = new Random(17 + (int)t);
            var weights = CpuKernelTests.RandomFloats(r, m * k, 0.5f);
            var bytes = new byte[t.ByteCount(m * k)];
            BlockCodec.Quantize(t, weights, bytes);
            var w = new float[m * k];
            BlockCodec.Dequantize(t, bytes, w); // the weight's own values: only the inputs' quantization is measured
            var x = Inputs(r, n, k, 0);
            var bias = CpuKernelTests.RandomFloats(r, m);
            var y = Forward(set, t, bytes, 0, x, n, m, k, bias);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                {
                    double exact = bias[j], bound = 0, magnitude = Math.Abs(bias[j]);
                    for (int b = 0; b < k / 32; b++)
                    {
                        double amax = 0, weightSum = 0;
                        for (int v = 32 * b; v < 32 * b + 32; v++)
                        {
                            exact += (double)w[j * k + v] * x[i * k + v];
                            amax = Math.Max(amax, Math.Abs(x[i * k + v]));
                            weightSum += Math.Abs(w[j * k + v]);
                            magnitude += Math.Abs((double)w[j * k + v] * x[i * k + v]);
                        }
                        bound += InputError(amax) * weightSum;
                        magnitude += InputError(amax) * weightSum;
                    }
                    bound += Gamma(k / 32) * magnitude;
                    Assert.True(Math.Abs(y[i * m + j] - exact) <= bound, $"{set} {t} [{i},{j}]: {y[i * m + j]} vs {exact} (bound {bound:E2})");
                }
        }
    }

    /// <summary>
    /// The most a value of a block with largest magnitude <paramref name="amax"/> moves when quantized: with
    /// d₀ = amax/127, the stored d = fp16(fl(d₀)) is within d₀·(2⁻¹¹ + 2⁻²⁴) + 2⁻²⁵ (fp16's subnormal half-step) of d₀,
    /// and q = round(fl(x·fl(127/amax))) within 1/2 + 127·2⁻²³ of x/d₀; so |x − q·d| ≤ 127·|d − d₀| + |q − x/d₀|·d,
    /// taken here with d ≤ d₀·(1 + 2⁻¹⁰) + 2⁻²⁵.
    /// </summary>
    private static double InputError(double amax)
    {
        double d0 = amax / 127, dError = d0 * (Math.Pow(2, -11) + Math.Pow(2, -24)) + Math.Pow(2, -25);
        return 127 * dError + (0.5 + 127 * Math.Pow(2, -23)) * (d0 * (1 + Math.Pow(2, -10)) + Math.Pow(2, -25));
    }

    /// <summary>
    /// γ_L = L·u/(1 − L·u), u = 2⁻²⁴, for the float roundings on the longest path of a pair's sum over
    /// <paramref name="blocks"/> blocks: one fused multiply-add per block of its lane (⌈blocks/8⌉), three adds of the
    /// lanes, the bias; the product fl(d_w·d_a) is part of the definition.
    /// </summary>
    private static double Gamma(int blocks)
    {
        double l = (blocks + 7) / 8 + 4, u = Math.Pow(2, -24);
        return l * u / (1 - l * u);
    }

    /// <summary>
    /// Σ_b fl(d_w[b]·d_a[b]) · Σ q_w·q_a + bias for every pair, exactly (in double: each term is a float times an
    /// integer below 2²⁰, and their few-hundred-term sums stay far inside double's precision), with the bound
    /// γ·(Σ |terms| + |bias|) on a float sum of them.
    /// </summary>
    private static (double[] Exact, double[] Bound) Definition(DType t, ReadOnlySpan<byte> blocks, ReadOnlySpan<float> x, int n, int m, int k, float[] bias)
    {
        int nb = k / 32, size = t == DType.Q8_0 ? 34 : 18;
        var (qa, da) = QuantizeAsLlamaCpp(x[..(n * k)]);
        var exact = new double[n * m];
        var bound = new double[n * m];
        for (int j = 0; j < m; j++)
            for (int b = 0; b < nb; b++)
            {
                var block = blocks.Slice((j * nb + b) * size, size);
                float dw = (float)BitConverter.ToHalf(block);
                var qw = WeightValues(t, block[2..]);
                for (int i = 0; i < n; i++)
                {
                    int dot = 0;
                    for (int v = 0; v < 32; v++) dot += qw[v] * qa[i * k + 32 * b + v];
                    double term = (double)(dw * da[i * nb + b]) * dot;
                    exact[i * m + j] += term;
                    bound[i * m + j] += Math.Abs(term);
                }
            }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                exact[i * m + j] += bias[j];
                bound[i * m + j] = Gamma(nb) * (bound[i * m + j] + Math.Abs(bias[j]));
            }
        return (exact, bound);
    }

    private static int[] WeightValues(DType t, ReadOnlySpan<byte> q)
    {
        var values = new int[32];
        for (int v = 0; v < 32; v++)
            values[v] = t == DType.Q8_0 ? (sbyte)q[v] : v < 16 ? (q[v] & 0xF) - 8 : (q[v - 16] >> 4) - 8;
        return values;
    }

    /// <summary>llama.cpp's x86 quantize_row_q8_0: d = amax/127 to fp16, q = x·(127/amax) rounded to nearest even.</summary>
    private static (int[] Q, float[] D) QuantizeAsLlamaCpp(ReadOnlySpan<float> x)
    {
        var q = new int[x.Length];
        var d = new float[x.Length / 32];
        for (int b = 0; b < d.Length; b++)
        {
            float amax = 0;
            for (int v = 0; v < 32; v++) amax = MathF.Max(amax, MathF.Abs(x[32 * b + v]));
            d[b] = (float)(Half)(amax / 127f);
            float id = amax != 0 ? 127f / amax : 0f;
            for (int v = 0; v < 32; v++) q[32 * b + v] = (int)MathF.Round(x[32 * b + v] * id, MidpointRounding.ToEven);
        }
        return (q, d);
    }

    [Fact]
    public void QuantizedInputsHoldTheRoundTripValues()
    {
        const int k = 352; // 11 blocks: a whole group and a padded one
        var x = CpuKernelTests.RandomFloats(new Random(3), k);
        x.AsSpan(32, 32).Clear(); // an all-zero block: d = 0
        x[64] = 127f; // amax 127: 127/amax = 1, so the halves below round to even
        x[65] = 2.5f; x[66] = -3.5f; x[67] = 0.5f; x[68] = -0.5f;
        x[100] = 1e-6f; // a block whose d is an fp16 subnormal
        for (int v = 96; v < 128; v++) x[v] *= 1e-5f;
        var expected = new float[k];
        ActivationQuant.RoundTrip(DType.Q8_0, x, expected);
        var (scalarQ, scalarD) = Quantized(x, vector: false);
        var (vectorQ, vectorD) = Quantized(x, vector: true);
        Assert.Equal(scalarQ, vectorQ);
        Assert.Equal(scalarD, vectorD);
        // Equal as numbers: the round trip's −0 (a small negative value rounded to zero) is an integer 0 here.
        for (int v = 0; v < k; v++)
            Assert.True((scalarQ[v] - 128) * scalarD[v / 32] == expected[v],
                $"value {v}: q {scalarQ[v] - 128} · d {scalarD[v / 32]} vs the round trip's {expected[v]}");
        Assert.Equal([2, -4, 0, 0], scalarQ[65..69].Select(q => q - 128).ToArray());
    }

    [Fact]
    public void ANaNInputGivesNaNOutputsOnEveryPath()
    {
        const int n = 6, m = 3, k = 64;
        var r = new Random(8);
        var blocks = QuantDecodeTests.RandomBlocks(r, DType.Q8_0, m * k, 0);
        var x = CpuKernelTests.RandomFloats(r, n * k);
        x[2 * k + 40] = float.NaN;
        foreach (var set in InstructionSets.Supported)
        {
            var y = Forward(set, DType.Q8_0, blocks, 0, x, n, m, k, new float[m]);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) Assert.Equal(i == 2, float.IsNaN(y[i * m + j]));
        }
    }

    /// <summary><paramref name="x"/> quantized by <see cref="Q8_0Inputs"/>, read back out of the interleaved layout: biased bytes in value order, and scales.</summary>
    private static (int[] Q, float[] D) Quantized(float[] x, bool vector)
    {
        int k = x.Length, groups = Q8_0Interleaved.GroupsOf(k);
        var q = GC.AllocateArray<byte>(groups * Q8_0Interleaved.GroupBytes, pinned: true);
        var d = GC.AllocateArray<float>(groups * Q8_0Interleaved.GroupBlocks, pinned: true);
        fixed (float* px = x) fixed (byte* pq = q) fixed (float* pd = d)
            Q8_0Inputs.Quantize(px, k, new Q8_0Interleaved(pq, pd, groups, Q8_0Inputs.Zero), vector);
        for (int v = k; v < groups * Q8_0Interleaved.GroupBytes; v++) Assert.Equal(Q8_0Inputs.Zero, q[At(v)]); // the padding
        return (Enumerable.Range(0, k).Select(v => (int)q[At(v)]).ToArray(), d.AsSpan(0, k / 32).ToArray());
    }

    /// <summary>Where value <paramref name="v"/> of a row sits in the interleaved layout: byte v % 32 of block b = v / 32
    /// is in vector (v % 32) / 4 of group b / 8, lane b % 8, byte v % 4.</summary>
    private static int At(int v)
    {
        int b = v / 32, i = v % 32;
        return b / 8 * Q8_0Interleaved.GroupBytes + i / 4 * 32 + b % 8 * 4 + i % 4;
    }

    /// <summary>Random inputs with one large value (its block quantizes mostly to small levels) and an all-zero block (d = 0).</summary>
    private static float[] Inputs(Random r, int n, int k, int offset)
    {
        var x = CpuKernelTests.RandomFloats(r, offset + n * k);
        x[offset + 5] = 4f;
        x.AsSpan(offset + k, Math.Min(32, (n - 1) * k)).Clear();
        return x;
    }

    private static float[] Forward(CpuInstructionSet set, DType t, byte[] blocks, int offset, float[] x, int n, int m, int k, float[] bias)
    {
        Assert.True(n > 4, "these shapes are for the prefill path");
        return OffsetLinear.Forward(set, t, blocks, offset, x, n, m, k, bias);
    }

    [Fact]
    public void ReportsTheTilesTested() =>
        output.WriteLine($"Q8_0 prefill tested on: {string.Join(", ", InstructionSets.Supported)}; " +
            $"not on this machine: {(InstructionSets.Missing is "" ? "none" : InstructionSets.Missing)}; " +
            $"AVX-VNNI (the 2x4 tile under avx512): {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}");
}

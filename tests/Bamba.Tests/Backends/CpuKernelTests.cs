using Bamba.Backends.Cpu;
using Bamba.Numerics;
using Bamba.Tests.Modeling;
using Bamba.Weights;

namespace Bamba.Tests.Backends;

/// <summary>The CPU fast paths against plain double-precision loops.</summary>
public unsafe class CpuKernelTests
{
    internal static float[] RandomFloats(Random r, int n, float scale = 1f) =>
        Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();

    internal static byte[] Encode(float[] v, DType dtype) => dtype switch
    {
        DType.F32 => v.SelectMany(BitConverter.GetBytes).ToArray(),
        DType.BF16 => v.SelectMany(x => BitConverter.GetBytes(BFloat16.FromSingle(x))).ToArray(),
        _ => v.SelectMany(x => BitConverter.GetBytes((Half)x)).ToArray(),
    };

    [Theory]
    [InlineData(DType.F32, 1, 37, 70)]
    [InlineData(DType.BF16, 1, 1000, 129)]
    [InlineData(DType.BF16, 3, 64, 33)]
    [InlineData(DType.BF16, 9, 48, 257)]
    [InlineData(DType.F16, 5, 31, 64)]
    [InlineData(DType.BF16, 1, 4099, 1024)] // decode: many chunks, a partial last one
    [InlineData(DType.BF16, 4, 130, 4133)] // decode: k not a multiple of the 64-element loop
    [InlineData(DType.F32, 2, 300, 96)]
    [InlineData(DType.F16, 1, 77, 1000)]
    public void LinearMatchesNaiveProduct(DType dtype, int n, int m, int k)
    {
        var r = new Random(n * 1000 + m + k);
        var x = RandomFloats(r, n * k);
        var wBytes = Encode(RandomFloats(r, m * k), dtype);
        var bias = RandomFloats(r, m);
        var info = new TensorInfo("w", "mem", dtype, [m, k], 0, wBytes.Length);
        var wf = new float[m * k];
        var y = new float[n * m];
        fixed (byte* p = wBytes)
        {
            var w = new WeightTensor(info, p);
            w.ReadFloats(0, wf); // the stored values, widened
            Linear.Forward(x, n, w, bias, y);
        }
        var expected = new float[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double acc = bias[j];
                for (int t = 0; t < k; t++) acc += (double)x[i * k + t] * wf[j * k + t];
                expected[i * m + j] = (float)acc;
            }
        Tolerance.AssertClose(expected, y, 1e-5, $"linear {dtype} n={n}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(64)]
    [InlineData(97)]
    [InlineData(4097)]
    // The machine's widest SIMD path runs here; DOTNET_EnableAVX512=0 runs the 256-bit one, DOTNET_EnableHWIntrinsic=0 the scalar one.
    public void BFloat16DotHandlesEveryLength(int k)
    {
        var r = new Random(k);
        var x = RandomFloats(r, k);
        var w = RandomFloats(r, k).Select(BFloat16.FromSingle).ToArray();
        double expected = 0;
        for (int i = 0; i < k; i++) expected += (double)BFloat16.ToSingle(w[i]) * x[i];
        var permuted = new float[k];
        fixed (ushort* wp = w) fixed (float* xp = x, pp = permuted)
        {
            BFloat16Dot.PermuteInput(xp, pp, k);
            Assert.Equal(expected, BFloat16Dot.Dot(wp, pp, k), 3);
        }
    }

    /// <summary>The decode path (a few input rows) against the tiled path that prefill uses, on the same rows.</summary>
    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    public void DecodeRowsMatchTheTiledPath(DType dtype)
    {
        const int m = 515, k = 1056, tiledRows = 8;
        var r = new Random(7);
        var x = RandomFloats(r, tiledRows * k);
        var wBytes = Encode(RandomFloats(r, m * k, 0.05f), dtype);
        var bias = RandomFloats(r, m);
        var tiled = new float[tiledRows * m];
        var info = new TensorInfo("w", "mem", dtype, [m, k], 0, wBytes.Length);
        fixed (byte* p = wBytes)
        {
            var w = new WeightTensor(info, p);
            Linear.Forward(x, tiledRows, w, bias, tiled);
            for (int n = 1; n <= 4; n++)
            {
                var decoded = new float[n * m];
                Linear.Forward(x.AsSpan(0, n * k), n, w, bias, decoded);
                Tolerance.AssertClose(tiled.AsSpan(0, n * m).ToArray(), decoded, 1e-5, $"decode {dtype} n={n}");
            }
        }
    }

    /// <summary>The vectorised SiLU forms against the scalar definition, across block boundaries and extreme inputs.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(513)]
    [InlineData(4096)]
    [InlineData(70001)] // split over the CPU workers, a short last chunk
    public void VectorisedSiluMatchesTheScalarDefinition(int n)
    {
        var r = new Random(n);
        var v = RandomFloats(r, n, 12f);
        v[0] = n > 1 ? -100f : 0f;
        v[^1] = 100f;
        var other = RandomFloats(r, n);
        var silu = v.Select(Activations.Silu).ToArray();

        var inPlace = (float[])v.Clone();
        Activations.SiluInPlace(inPlace);
        Tolerance.AssertClose(silu, inPlace, 1e-6, "silu");
        var swiGlu = (float[])v.Clone();
        Activations.SwiGlu(swiGlu, other);
        Tolerance.AssertClose(silu.Zip(other, (a, b) => a * b).ToArray(), swiGlu, 1e-6, "swiglu");
        var gated = (float[])other.Clone();
        Activations.MultiplyBySilu(gated, v);
        Tolerance.AssertClose(silu.Zip(other, (a, b) => a * b).ToArray(), gated, 1e-6, "y · silu(z)");
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, BFloat16.FromSingle(1f));
        Assert.Equal(0x3F80, BFloat16.FromSingle(BitConverter.Int32BitsToSingle(0x3F808000))); // tie → even
        Assert.Equal(0x3F82, BFloat16.FromSingle(BitConverter.Int32BitsToSingle(0x3F818000))); // tie → even (up)
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.FromSingle(float.NaN))));
    }

    [Fact]
    public void ConvInPiecesEqualsConvAtOnce()
    {
        var r = new Random(3);
        int channels = 6, kernel = 4, steps = 11;
        var input = RandomFloats(r, steps * channels);
        var weight = RandomFloats(r, channels * kernel);
        var bias = RandomFloats(r, channels);
        var whole = new float[steps * channels];
        CausalConv.Forward(input, channels, steps, new float[(kernel - 1) * channels], weight, bias, kernel, whole);

        var window = new float[(kernel - 1) * channels];
        var pieces = new float[steps * channels];
        foreach (var (start, len) in new[] { (0, 2), (2, 1), (3, 5), (8, 3) })
            CausalConv.Forward(input.AsSpan(start * channels), channels, len, window, weight, bias, kernel, pieces.AsSpan(start * channels, len * channels));

        Tolerance.AssertClose(whole, pieces, 1e-6, "conv in pieces");
        for (int c = 0; c < channels; c++) // first output: only the newest tap sees data
            Assert.Equal(bias[c] + weight[c * kernel + kernel - 1] * input[c], whole[c], 5);
    }

    /// <summary>The vectorised conv against its definition: odd channel counts (vector tails), a row stride wider than the channels, a window carried in.</summary>
    [Theory]
    [InlineData(37, 4, 9, 0)]
    [InlineData(5, 3, 1, 2)]
    [InlineData(64, 4, 2, 7)]
    public void ConvMatchesItsDefinition(int channels, int kernel, int steps, int extraStride)
    {
        var r = new Random(channels * 31 + steps);
        int stride = channels + extraStride, history = kernel - 1;
        var input = RandomFloats(r, steps * stride);
        var weight = RandomFloats(r, channels * kernel);
        var bias = RandomFloats(r, channels);
        var window = RandomFloats(r, history * channels);
        var expected = new float[steps * channels];
        for (int t = 0; t < steps; t++)
            for (int c = 0; c < channels; c++)
            {
                double acc = bias[c];
                for (int j = 0; j < kernel; j++)
                {
                    int source = t - history + j;
                    acc += (double)weight[c * kernel + j] * (source >= 0 ? input[source * stride + c] : window[(history + source) * channels + c]);
                }
                expected[t * channels + c] = (float)acc;
            }
        var output = new float[steps * channels];
        CausalConv.Forward(input, stride, steps, window, weight, bias, kernel, output);
        Tolerance.AssertClose(expected, output, 1e-6, "conv");
    }

    public static TheoryData<int, int, int, int> ScanShapes() => new()
    {
        // heads, groups, chunk, steps
        { 4, 1, 4, 13 }, { 6, 2, 5, 17 }, { 4, 4, 3, 10 }, { 2, 1, 64, 9 }, { 8, 2, 7, 1 },
    };

    [Theory]
    [MemberData(nameof(ScanShapes))]
    public void ChunkedScanEqualsSequentialRecurrence(int heads, int groups, int chunk, int steps) =>
        CheckScan(new SsdScan.Shape(heads, 3, groups, 5, chunk), steps, heads * 100 + groups * 10 + chunk);

    /// <summary>A run of <paramref name="steps"/> steps from a random state against <see cref="NaiveScan"/>.</summary>
    internal static void CheckScan(SsdScan.Shape shape, int steps, int seed)
    {
        var r = new Random(seed);
        int heads = shape.Heads, stride = shape.Inner + 2 * shape.Groups * shape.StateSize;
        var xbc = RandomFloats(r, steps * stride);
        var dt = Enumerable.Range(0, steps * heads).Select(_ => 0.05f + r.NextSingle() * 0.5f).ToArray();
        var a = Enumerable.Range(0, heads).Select(h => -(h % 8 + 1) * 0.7f).ToArray();
        var d = RandomFloats(r, heads);
        var initial = RandomFloats(r, heads * shape.HeadDim * shape.StateSize);

        var state = (float[])initial.Clone();
        var y = new float[steps * shape.Inner];
        SsdScan.Run(shape, xbc, 0, stride, steps, dt, 0, a, d, state, y, 0);

        var (expectedY, expectedState) = NaiveScan(shape, xbc, stride, steps, dt, a, d, initial);
        Tolerance.AssertClose(expectedY, y, 1e-5, "scan output");
        Tolerance.AssertClose(expectedState, state, 1e-5, "final state");
    }

    /// <summary>Decode's one-pass state update (<see cref="SsdStep"/>) at the model's sizes, two steps in a row.</summary>
    [Fact]
    public void DecodeStepMatchesRecurrenceAtModelSize()
    {
        var r = new Random(11);
        var shape = new SsdScan.Shape(8, 64, 2, 128, 256);
        int stride = shape.Inner + 2 * shape.Groups * shape.StateSize;
        var xbc = RandomFloats(r, 2 * stride);
        var dt = Enumerable.Range(0, 2 * shape.Heads).Select(_ => 0.05f + r.NextSingle() * 0.5f).ToArray();
        var a = Enumerable.Range(0, shape.Heads).Select(h => -(h + 1) * 0.3f).ToArray();
        var d = RandomFloats(r, shape.Heads);
        var initial = RandomFloats(r, shape.Heads * shape.HeadDim * shape.StateSize);

        var state = (float[])initial.Clone();
        var y = new float[2 * shape.Inner];
        for (int t = 0; t < 2; t++) SsdScan.Run(shape, xbc, t * stride, stride, 1, dt, t * shape.Heads, a, d, state, y, t * shape.Inner);

        var (expectedY, expectedState) = NaiveScan(shape, xbc, stride, 2, dt, a, d, initial);
        Tolerance.AssertClose(expectedY, y, 1e-5, "decode step output");
        Tolerance.AssertClose(expectedState, state, 1e-5, "decode step state");
    }

    /// <summary>S ← exp(dt·A)·S + dt·x⊗B; y = S·C + D·x, one step at a time, in double.</summary>
    private static (float[], float[]) NaiveScan(SsdScan.Shape s, float[] xbc, int stride, int steps, float[] dt, float[] a, float[] d, float[] initial)
    {
        var state = initial.Select(v => (double)v).ToArray();
        var y = new float[steps * s.Inner];
        int n = s.StateSize, p = s.HeadDim;
        for (int t = 0; t < steps; t++)
            for (int h = 0; h < s.Heads; h++)
            {
                int g = h / s.HeadsPerGroup;
                double step = dt[t * s.Heads + h], decay = Math.Exp(step * a[h]);
                for (int i = 0; i < p; i++)
                {
                    double x = xbc[t * stride + h * p + i], acc = 0;
                    for (int j = 0; j < n; j++)
                    {
                        int at = (h * p + i) * n + j;
                        state[at] = decay * state[at] + step * x * xbc[t * stride + s.Inner + g * n + j];
                        acc += state[at] * xbc[t * stride + s.Inner + (s.Groups + g) * n + j];
                    }
                    y[t * s.Inner + h * p + i] = (float)(acc + d[h] * x);
                }
            }
        return (y, state.Select(v => (float)v).ToArray());
    }

    [Fact]
    public void GatedNormPerGroupNormalisesEachGroup()
    {
        var y = new float[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        var z = Enumerable.Repeat(30f, 8).ToArray(); // silu(30) ≈ 30
        var w = Enumerable.Repeat(1f, 8).ToArray();
        Norms.GatedRmsNorm(y, z, w, 0f, 4);
        for (int g = 0; g < 2; g++)
        {
            double ms = y.Skip(g * 4).Take(4).Average(v => (double)v * v);
            Assert.Equal(1.0, ms, 4);
        }
    }

    [Fact]
    public void RopeRotatesOnlyTheRotaryDims()
    {
        var rope = new Rope(10000, 4);
        var head = new float[] { 1, 0, 0, 0, 5, 6 };
        rope.Apply(head, 3);
        Assert.Equal(MathF.Cos(3), head[0], 5);
        Assert.Equal(MathF.Sin(3), head[2], 5); // the partner of dim 0 is dim 0 + rotary/2
        Assert.Equal([5f, 6f], head[4..]);
    }
}

using Bamba.Backends.Cuda;
using Bamba.Numerics;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// Quantized weights on the device (GGUF blocks, FP8 with row scales): the dequantization equals the CPU's decoder bit
/// for bit, and the GEMV and the dequantize-then-GEMM paths equal the CPU product over those decoded weights.
/// </summary>
public class QuantLinearTests
{
    public static TheoryData<DType> Formats => [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.F8_E4M3];

    /// <summary>A random matrix quantized on the CPU: its bytes, its row scales (FP8) and the CPU's decoded values.</summary>
    private sealed record Quantized(byte[] Bytes, float[] Scales, float[] Values);

    private static Quantized Make(DType format, int m, int k, int seed)
    {
        var w = Gpu.Random(seed, m * k, 0.1f);
        if (format == DType.F8_E4M3)
        {
            var bytes = new byte[m * k];
            var scales = new float[m];
            var values = new float[m * k];
            for (int r = 0; r < m; r++)
            {
                var row = w.AsSpan(r * k, k);
                float max = 0;
                foreach (float v in row) max = MathF.Max(max, MathF.Abs(v));
                scales[r] = Fp8E4M3.ScaleFor(max);
                Fp8E4M3.Quantize(row, scales[r], bytes.AsSpan(r * k, k));
                Fp8E4M3.Dequantize(bytes.AsSpan(r * k, k), scales[r], values.AsSpan(r * k, k));
            }
            return new Quantized(bytes, scales, values);
        }
        var blocks = new byte[format.ByteCount((long)m * k)];
        BlockCodec.Quantize(format, w, blocks);
        var decoded = new float[m * k];
        BlockCodec.Dequantize(format, blocks, decoded);
        return new Quantized(blocks, [], decoded);
    }

    /// <summary>The quantized matrix on the device; the buffers live as long as the returned scope.</summary>
    private sealed class OnDevice(CudaOps ops, DType format, Quantized q, int m, int k) : IDisposable
    {
        private readonly DeviceBuffer _bytes = ops.Device.Upload<byte>(q.Bytes);
        private readonly DeviceBuffer? _scales = q.Scales.Length > 0 ? ops.Device.Upload<float>(q.Scales) : null;

        public DeviceMatrix Matrix => new(_bytes.Pointer, m, k, format, _scales?.Pointer ?? 0);

        public void Dispose()
        {
            _bytes.Dispose();
            _scales?.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void DequantizationEqualsTheCpuDecoderBitForBit(DType format)
    {
        const int m = 7, k = 512;
        var q = Make(format, m, k, 1);
        foreach (var precision in new[] { CudaPrecision.Float32, CudaPrecision.BFloat16 })
        {
            var ops = Gpu.Ops(precision);
            using var w = new OnDevice(ops, format, q, m, k);
            using var f32 = ops.Device.Allocate(4L * m * k);
            using var act = ops.Device.Allocate((long)m * k * ops.ActBytes);
            ops.DequantizeToF32(w.Matrix, f32.Pointer);
            ops.Dequantize(w.Matrix, act.Pointer);

            Assert.Equal(q.Values, Gpu.ReadF32(f32.Pointer, m * k));
            Assert.Equal(Gpu.Rounded(ops, q.Values), Gpu.ReadAct(ops, act.Pointer, m * k));
        }
    }

    /// <summary>
    /// The activations as a block format's GEMV reads them: each 32-value block as int8 levels times max |x| / 127
    /// (rounded to nearest even), as llama.cpp's CUDA GEMV rounds them. FP8 reads them unrounded.
    /// </summary>
    private static float[] AsGemvReadsThem(DType format, float[] x)
    {
        if (format == DType.F8_E4M3) return x;
        var y = new float[x.Length];
        for (int b = 0; b < x.Length; b += 32)
        {
            float max = 0;
            for (int i = 0; i < 32; i++) max = MathF.Max(max, MathF.Abs(x[b + i]));
            float d = max / 127f;
            for (int i = 0; i < 32; i++) y[b + i] = d > 0 ? MathF.Round(x[b + i] / d, MidpointRounding.ToEven) * d : 0;
        }
        return y;
    }

    /// <summary>Decode rows through the format's GEMV (bf16 mode), k split over warps where rows are long.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void GemvEqualsTheProductOverDecodedWeights(DType format)
    {
        var ops = Gpu.Ops(CudaPrecision.BFloat16);
        foreach (var (n, m, k) in new[] { (1, 96, 256), (3, 300, 2048), (4, 1000, 4096), (2, 24, 14336) }) // the last: shares that end mid-round
        {
            var q = Make(format, m, k, 2 + n);
            var x = Gpu.Rounded(ops, Gpu.Random(10 + n, n * k));
            using var w = new OnDevice(ops, format, q, m, k);
            using var xd = Gpu.Act(ops, x);
            using var yd = ops.Device.Allocate((long)n * m * ops.ActBytes);
            ops.Linear(xd.Pointer, w.Matrix, yd.Pointer, n);

            Close.Assert(LinearTests.CpuLinear(AsGemvReadsThem(format, x), q.Values, n, m, k), Gpu.ReadAct(ops, yd.Pointer, n * m), Close.For(ops), $"{format} gemv {n}x{k}·{m}x{k}ᵀ");
        }
    }

    /// <summary>Longer products (and every product in fp32 mode): dequantized into scratch, then cuBLASLt.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void PrefillProductEqualsTheProductOverDecodedWeights(DType format)
    {
        const int n = 40, m = 264, k = 512;
        var q = Make(format, m, k, 3);
        foreach (var precision in new[] { CudaPrecision.Float32, CudaPrecision.BFloat16 })
        {
            var ops = Gpu.Ops(precision);
            var x = Gpu.Rounded(ops, Gpu.Random(20, n * k));
            using var w = new OnDevice(ops, format, q, m, k);
            using var xd = Gpu.Act(ops, x);
            using var yd = ops.Device.Allocate((long)n * m * ops.ActBytes);
            ops.Linear(xd.Pointer, w.Matrix, yd.Pointer, n);

            var expected = LinearTests.CpuLinear(x, Gpu.Rounded(ops, q.Values), n, m, k);
            Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, n * m), Close.For(ops), $"{format} {precision} {n}x{k}·{m}x{k}ᵀ");
        }
    }

    /// <summary>A synthetic quantized matrix (benchmarks) decodes to finite values near zero with about the bf16 placeholders' spread (0.02).</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void PlaceholderBlocksDecodeToFiniteValues(DType format)
    {
        const int m = 64, k = 1024;
        var ops = Gpu.Ops(CudaPrecision.Float32);
        long bytes = m * DeviceMatrix.BytesPerRow(format, k);
        using var data = ops.Device.Allocate(bytes);
        using var scales = ops.Device.Upload<float>(Enumerable.Repeat(Benchmarks.SyntheticModel.Fp8RowScale, m).ToArray());
        var (scale, min) = CudaWeights.PlaceholderBlockScales(format);
        ops.FillQuantPlaceholder(data.Pointer, format, bytes, 7, scale, min);
        using var f32 = ops.Device.Allocate(4L * m * k);
        ops.DequantizeToF32(new DeviceMatrix(data.Pointer, m, k, format, format == DType.F8_E4M3 ? scales.Pointer : 0), f32.Pointer);

        var values = Gpu.ReadF32(f32.Pointer, m * k);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        double mean = values.Average(v => (double)v), sd = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(sd, 0.01, 0.04);
        Assert.InRange(Math.Abs(mean), 0, 0.25 * sd);
    }
}

using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>The causal depthwise conv (+ SiLU, padding rows zeroed) and its window, against CausalConv.</summary>
public class ConvTests
{
    /// <summary>
    /// Several runs in a row on one sequence: the window carries across calls, runs shorter and longer than K−1 and
    /// than a thread's 16 steps; aligned rows take 8 channels per thread (16-byte accesses), others one.
    /// </summary>
    [Theory]
    [InlineData(CudaPrecision.Float32, 100, 4, true, false, new[] { 1, 3, 10, 1 })]
    [InlineData(CudaPrecision.Float32, 300, 4, false, false, new[] { 17, 2 })]
    [InlineData(CudaPrecision.Float32, 64, 2, true, false, new[] { 5, 1, 1 })]
    [InlineData(CudaPrecision.Float32, 160, 4, true, true, new[] { 1, 3, 40, 2 })]
    [InlineData(CudaPrecision.BFloat16, 160, 4, true, true, new[] { 2, 37, 16 })]
    [InlineData(CudaPrecision.BFloat16, 64, 3, false, true, new[] { 1, 20 })]
    public void PrefillRunsMatchCpu(CudaPrecision precision, int channels, int kernel, bool withBias, bool aligned, int[] runs)
    {
        var ops = Gpu.Ops(precision);
        int stride = channels + (aligned ? 40 : 37), col = aligned ? 16 : 11;
        var weight = Gpu.Random(20, channels * kernel);
        var bias = withBias ? Gpu.Random(21, channels) : [];
        var cpuWindow = new float[(kernel - 1) * channels];
        using var wd = Gpu.F32(weight);
        using var bd = withBias ? Gpu.F32(bias) : null;
        using var window = ops.Device.AllocateZeroed(Math.Max(1, cpuWindow.Length) * 4);
        int seed = 22;
        foreach (int steps in runs)
        {
            var input = Gpu.Rounded(ops, Gpu.Random(seed++, steps * stride, 2f));
            var positions = Enumerable.Range(0, steps).Select(t => t == 0 && steps > 2 ? -1 : t).ToArray(); // one padding row
            var expected = new float[steps * channels];
            CausalConv.Forward(input.AsSpan(col), stride, steps, cpuWindow, weight, bias, kernel, expected);
            Activations.SiluInPlace(expected);
            for (int t = 0; t < steps; t++) if (positions[t] < 0) expected.AsSpan(t * channels, channels).Clear();

            using var id = Gpu.Act(ops, input);
            using var pd = Gpu.I32(positions);
            using var od = ops.Device.Allocate(expected.Length * ops.ActBytes);
            ops.CausalConvRun(id.Pointer + (ulong)(col * ops.ActBytes), stride, window.Pointer, wd.Pointer, bd?.Pointer ?? 0, od.Pointer, pd.Pointer,
                steps, channels, kernel);

            Close.Assert(expected, Gpu.ReadAct(ops, od.Pointer, expected.Length), Close.For(ops), $"conv run of {steps}");
            Close.Assert(cpuWindow, Gpu.ReadF32(window.Pointer, cpuWindow.Length), 0, $"window after run of {steps}");
        }
    }

    [Fact]
    public void AConvWiderThanTheKernelTakesIsRefused()
    {
        var config = Bamba.Benchmarks.SyntheticModel.Bamba9B with { MambaDConv = 5 };
        CudaOps.CheckShapes(config with { MambaDConv = 4 });
        var e = Assert.Throws<BambaException>(() => CudaOps.CheckShapes(config));
        Assert.Contains("mamba_d_conv ≤ 4, got 5", e.Message);
    }

    /// <summary>One decode step for a batch of sequences, each with its own window (a device table of pointers).</summary>
    [Fact]
    public void StepForABatchMatchesCpu()
    {
        var ops = Gpu.Ops();
        int rows = 3, channels = 130, kernel = 4, stride = 200;
        var weight = Gpu.Random(30, channels * kernel);
        var bias = Gpu.Random(31, channels);
        var input = Gpu.Random(32, rows * stride);
        var windows = Enumerable.Range(0, rows).Select(r => Gpu.Random(33 + r, (kernel - 1) * channels)).ToArray();
        var buffers = windows.Select(Gpu.F32).ToArray();
        try
        {
            using var table = Gpu.Device.Upload<ulong>(buffers.Select(b => b.Pointer).ToArray());
            using var wd = Gpu.F32(weight);
            using var bd = Gpu.F32(bias);
            using var id = Gpu.F32(input);
            using var pd = Gpu.I32([4, 9, 0]);
            using var od = ops.Device.Allocate(rows * channels * 4);
            ops.CausalConvStep(id.Pointer, stride, table.Pointer, wd.Pointer, bd.Pointer, od.Pointer, pd.Pointer, rows, channels, kernel);
            var got = Gpu.ReadF32(od.Pointer, rows * channels);
            for (int r = 0; r < rows; r++)
            {
                var expected = new float[channels];
                CausalConv.Forward(input.AsSpan(r * stride), stride, 1, windows[r], weight, bias, kernel, expected);
                Activations.SiluInPlace(expected);
                Close.Assert(expected, got.AsSpan(r * channels, channels), 1e-5, $"conv step row {r}");
                Close.Assert(windows[r], Gpu.ReadF32(buffers[r].Pointer, windows[r].Length), 0, $"window row {r}");
            }
        }
        finally { foreach (var b in buffers) b.Dispose(); }
    }
}

using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>The chunked SSD kernels and the one-step update against SsdScan (the CPU's exact per-pair decays).</summary>
public class SsdTests
{
    private const double Tol = 1e-4;


    public static TheoryData<int, int, int, int, int, int[]> Cases() => new()
    {
        { 4, 16, 1, 16, 16, [1] },
        { 4, 16, 1, 16, 16, [15, 1, 16, 17] },      // chunk boundaries, state carried between calls
        { 4, 16, 1, 16, 16, [50] },
        { 8, 64, 2, 128, 64, [130, 3] },            // Bamba-9B's head and state sizes, two groups
        { 6, 8, 3, 32, 7, [20, 9] },                // odd chunk size, three groups
        { 2, 32, 1, 256, 32, [40] },                // a state of 256
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChunkedScanMatchesCpu(int heads, int headDim, int groups, int stateSize, int chunk, int[] runs)
    {
        var ops = Gpu.Ops();
        var shape = new SsdScan.Shape(heads, headDim, groups, stateSize, chunk);
        var gpuShape = new CudaOps.SsdShape(heads, headDim, groups, stateSize, chunk);
        int convDim = gpuShape.ConvDim;
        var a = Enumerable.Range(0, heads).Select(h => -0.5f - 3.5f * h / heads).ToArray();
        var d = Gpu.Random(40, heads);
        var cpuState = Gpu.Random(41, heads * headDim * stateSize, 0.5f);
        using var ad = Gpu.F32(a);
        using var dd = Gpu.F32(d);
        using var state = Gpu.F32(cpuState);
        int seed = 42;
        foreach (int steps in runs)
        {
            var xbc = Gpu.Random(seed++, steps * convDim);
            var dt = Gpu.Random(seed++, steps * heads).Select(v => 0.01f + 0.1f * (v + 1)).ToArray();
            var expected = new float[steps * gpuShape.Inner];
            SsdScan.Run(shape, xbc, 0, convDim, steps, dt, 0, a, d, cpuState, expected, 0);

            using var xd = Gpu.F32(xbc);
            using var dtd = Gpu.F32(dt);
            using var yd = ops.Device.Allocate(expected.Length * 4);
            ops.SsdChunked(gpuShape, xd.Pointer, dtd.Pointer, ad.Pointer, dd.Pointer, state.Pointer, yd.Pointer, steps);

            Close.Assert(expected, Gpu.ReadF32(yd.Pointer, expected.Length), Tol, $"y after run of {steps}");
            Close.Assert(cpuState, Gpu.ReadF32(state.Pointer, cpuState.Length), Tol, $"state after run of {steps}");
        }
    }

    /// <summary>
    /// bf16 mode: head dim 64 takes the tensor-core scan (bf16 products, float32 sums), others the CUDA-core kernels;
    /// inputs and the state are what bf16 stores, the reference is the CPU scan over those values.
    /// </summary>
    [Theory]
    [InlineData(8, 64, 2, 128, 64, new[] { 130, 3 }, false)]
    [InlineData(4, 64, 1, 128, 256, new[] { 300 }, false)]
    [InlineData(4, 64, 1, 32, 128, new[] { 70, 1, 200 }, true)]
    [InlineData(4, 16, 1, 16, 16, new[] { 50 }, true)]
    public void Bf16ChunkedScanMatchesCpu(int heads, int headDim, int groups, int stateSize, int chunk, int[] runs, bool bf16State)
    {
        var ops = Gpu.Ops(CudaPrecision.BFloat16, bf16State);
        var shape = new SsdScan.Shape(heads, headDim, groups, stateSize, chunk);
        var gpuShape = new CudaOps.SsdShape(heads, headDim, groups, stateSize, chunk);
        int convDim = gpuShape.ConvDim;
        var a = Enumerable.Range(0, heads).Select(h => -0.5f - 3.5f * h / heads).ToArray();
        var d = Gpu.Random(40, heads);
        var cpuState = Gpu.StateRounded(ops, Gpu.Random(41, heads * headDim * stateSize, 0.5f));
        using var ad = Gpu.F32(a);
        using var dd = Gpu.F32(d);
        using var state = Gpu.State(ops, cpuState);
        int seed = 42;
        foreach (int steps in runs)
        {
            var xbc = Gpu.Rounded(ops, Gpu.Random(seed++, steps * convDim));
            var dt = Gpu.Random(seed++, steps * heads).Select(v => 0.01f + 0.1f * (v + 1)).ToArray();
            var expected = new float[steps * gpuShape.Inner];
            SsdScan.Run(shape, xbc, 0, convDim, steps, dt, 0, a, d, cpuState, expected, 0);

            using var xd = Gpu.Act(ops, xbc);
            using var dtd = Gpu.F32(dt);
            using var yd = ops.Device.Allocate(expected.Length * ops.ActBytes);
            ops.SsdChunked(gpuShape, xd.Pointer, dtd.Pointer, ad.Pointer, dd.Pointer, state.Pointer, yd.Pointer, steps);

            Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, expected.Length), Close.For(ops), $"bf16 y after run of {steps}");
            var gpuState = Gpu.ReadState(ops, state.Pointer, cpuState.Length);
            Close.Assert(cpuState, gpuState, Close.For(ops), $"bf16 state after run of {steps}");
            cpuState = gpuState; // both go on from the state the GPU stored
        }
    }

    [Theory]
    [InlineData(4, 16, 1, 16, CudaPrecision.Float32, false)]
    [InlineData(8, 64, 2, 128, CudaPrecision.Float32, false)]  // runs of 4 columns per lane (N % 128 == 0)
    [InlineData(3, 24, 3, 40, CudaPrecision.Float32, false)]
    [InlineData(2, 10, 1, 16, CudaPrecision.Float32, false)]   // a warp's last rows past the head's end
    [InlineData(8, 64, 1, 256, CudaPrecision.BFloat16, false)] // two runs per lane
    [InlineData(8, 64, 1, 128, CudaPrecision.BFloat16, true)]  // bf16 state
    [InlineData(4, 16, 1, 16, CudaPrecision.BFloat16, true)]
    public void StepForABatchMatchesCpu(int heads, int headDim, int groups, int stateSize, CudaPrecision precision, bool bf16State = false)
    {
        var ops = Gpu.Ops(precision, bf16State);
        double tol = precision == CudaPrecision.Float32 ? Tol : Close.For(ops);
        int rows = 3;
        var shape = new SsdScan.Shape(heads, headDim, groups, stateSize, 8);
        var gpuShape = new CudaOps.SsdShape(heads, headDim, groups, stateSize, 8);
        var a = Enumerable.Range(0, heads).Select(h => -1f - h).ToArray();
        var d = Gpu.Random(50, heads);
        var xbc = Gpu.Rounded(ops, Gpu.Random(51, rows * gpuShape.ConvDim));
        // The step makes dt itself from the in_proj rows: column 2 + h of rows of heads + 5, plus the bias, softplus, clamped.
        int projStride = heads + 5;
        var proj = Gpu.Rounded(ops, Gpu.Random(52, rows * projStride, 3f));
        var dtBias = Gpu.Random(57, heads);
        var dt = new float[rows * heads];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                dt[r * heads + h] = Math.Clamp(Activations.Softplus(proj[r * projStride + 2 + h] + dtBias[h]), 0.01f, 0.5f);
        var states = Enumerable.Range(0, rows).Select(r => Gpu.StateRounded(ops, Gpu.Random(53 + r, heads * headDim * stateSize))).ToArray();
        var buffers = states.Select(v => Gpu.State(ops, v)).ToArray();
        try
        {
            using var table = Gpu.Device.Upload<ulong>(buffers.Select(b => b.Pointer).ToArray());
            using var ad = Gpu.F32(a);
            using var dd = Gpu.F32(d);
            using var xd = Gpu.Act(ops, xbc);
            using var pd = Gpu.Act(ops, proj);
            using var bd = Gpu.F32(dtBias);
            using var yd = ops.Device.Allocate(rows * gpuShape.Inner * ops.ActBytes);
            ops.SsdStep(gpuShape, xd.Pointer, new CudaOps.DtSource(pd.Pointer, projStride, 2, bd.Pointer, 0.01f, 0.5f), ad.Pointer, dd.Pointer,
                table.Pointer, yd.Pointer, rows);
            var y = Gpu.ReadAct(ops, yd.Pointer, rows * gpuShape.Inner);
            for (int r = 0; r < rows; r++)
            {
                var expected = new float[gpuShape.Inner];
                SsdScan.Run(shape, xbc, r * gpuShape.ConvDim, gpuShape.ConvDim, 1, dt, r * heads, a, d, states[r], expected, 0);
                Close.Assert(expected, y.AsSpan(r * gpuShape.Inner, gpuShape.Inner), tol, $"y row {r}");
                Close.Assert(states[r], Gpu.ReadState(ops, buffers[r].Pointer, states[r].Length), tol, $"state row {r}");
            }
        }
        finally { foreach (var b in buffers) b.Dispose(); }
    }

    /// <summary>dt = clamp(softplus(raw + bias), limits), read from the dt columns of the in_proj rows.</summary>
    [Theory]
    [InlineData(0f, float.PositiveInfinity)]
    [InlineData(0.01f, 0.5f)]
    public void DtMatchesSoftplusAndClamp(float lo, float hi)
    {
        var ops = Gpu.Ops();
        int rows = 5, heads = 12, stride = 40, col = 25;
        var proj = Gpu.Random(60, rows * stride, 30f);
        var bias = Gpu.Random(61, heads);
        var expected = new float[rows * heads];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                expected[r * heads + h] = Math.Clamp(Activations.Softplus(proj[r * stride + col + h] + bias[h]), lo, hi);
        using var pd = Gpu.F32(proj);
        using var bd = Gpu.F32(bias);
        using var dtd = ops.Device.Allocate(expected.Length * 4);
        ops.SsdDt(pd.Pointer, stride, col, bd.Pointer, dtd.Pointer, rows, heads, lo, hi);
        Close.Assert(expected, Gpu.ReadF32(dtd.Pointer, expected.Length), 1e-6, "dt");
    }
}

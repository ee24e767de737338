using System.Runtime.InteropServices;
using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>cuBLASLt GEMM (fp32 accumulation) against the CPU Linear, in both precisions.</summary>
public unsafe class LinearTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 1, 64, 32)]
    [InlineData(CudaPrecision.Float32, 7, 300, 129)]
    [InlineData(CudaPrecision.Float32, 130, 512, 128)]
    [InlineData(CudaPrecision.BFloat16, 1, 64, 32)]
    [InlineData(CudaPrecision.BFloat16, 33, 352, 128)]
    [InlineData(CudaPrecision.BFloat16, 130, 1024, 256)]
    public void LinearMatchesCpu(CudaPrecision precision, int n, int m, int k)
    {
        var ops = Gpu.Ops(precision);
        var x = Gpu.Rounded(ops, Gpu.Random(1, n * k));
        var w = Gpu.Rounded(ops, Gpu.Random(2, m * k, 0.2f));
        var expected = CpuLinear(x, w, n, m, k);

        using var xd = Gpu.Act(ops, x);
        using var wd = Gpu.Act(ops, w);
        using var yd = ops.Device.Allocate((long)n * m * ops.ActBytes);
        ops.Linear(xd.Pointer, wd.Pointer, yd.Pointer, n, m, k);

        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, n * m), Close.For(ops), $"linear {n}x{k}·{m}x{k}ᵀ");
    }

    /// <summary>The decode GEMV (bf16 weights, a few rows) against the CPU Linear on the same bf16-rounded inputs.</summary>
    [Theory]
    [InlineData(1, 64, 32)]
    [InlineData(2, 300, 136)]
    [InlineData(3, 4096, 4096)]
    [InlineData(4, 1000, 14336)]
    [InlineData(1, 4096, 8200)]  // k split over warps unevenly
    [InlineData(2, 4096, 14336)]
    public void GemvMatchesCpu(int n, int m, int k)
    {
        var ops = Gpu.Ops(CudaPrecision.BFloat16);
        var x = Gpu.Rounded(ops, Gpu.Random(14, n * k));
        var w = Gpu.Rounded(ops, Gpu.Random(15, m * k, 0.05f));
        var expected = CpuLinear(x, w, n, m, k);

        using var xd = Gpu.Act(ops, x);
        using var wd = Gpu.Act(ops, w);
        using var yd = ops.Device.Allocate((long)n * m * ops.ActBytes);
        ops.Gemv(xd.Pointer, wd.Pointer, yd.Pointer, n, m, k);

        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, n * m), Close.For(ops), $"gemv {n}x{k}·{m}x{k}ᵀ");
    }

    /// <summary>
    /// The gate|up product with SwiGLU on the way out (fused GEMV for ≤ 4 rows, product + element-wise otherwise)
    /// against the CPU Linear, the product rounded to bf16 as the unfused path stores it, then the CPU SwiGLU.
    /// </summary>
    [Theory]
    [InlineData(1, 64, 32)]
    [InlineData(3, 300, 136)]    // the last block's pairs run past inter
    [InlineData(4, 1792, 4096)]  // few rows per matrix: k split over warps
    [InlineData(1, 14336, 4096)] // the bamba-9b MLP's shape
    [InlineData(6, 352, 128)]    // more rows than the GEMV takes: cuBLASLt then SwiGLU
    public void LinearSwiGluMatchesCpu(int n, int inter, int k)
    {
        var ops = Gpu.Ops(CudaPrecision.BFloat16);
        var x = Gpu.Rounded(ops, Gpu.Random(16, n * k));
        var w = Gpu.Rounded(ops, Gpu.Random(17, 2 * inter * k, 0.1f));
        var gateUp = Gpu.Rounded(ops, CpuLinear(x, w, n, 2 * inter, k));
        var gate = ElementwiseTests.CpuSwiGlu(gateUp, n, inter);

        using var xd = Gpu.Act(ops, x);
        using var wd = Gpu.Act(ops, w);
        using var yd = ops.Device.Allocate((long)n * inter * ops.ActBytes);
        ops.LinearSwiGlu(xd.Pointer, wd.Pointer, yd.Pointer, n, inter, k);

        Close.Assert(gate, Gpu.ReadAct(ops, yd.Pointer, n * inter), Close.For(ops), $"gemv+swiglu {n}x{k}·{2 * inter}x{k}ᵀ");
    }

    /// <summary>The CPU twin: <see cref="Linear.Forward"/> over float32 weights.</summary>
    internal static float[] CpuLinear(float[] x, float[] w, int n, int m, int k)
    {
        var y = new float[n * m];
        fixed (float* wp = w)
            Linear.Forward(x, n, new WeightTensor(new TensorInfo("w", "test", DType.F32, [m, k], 0, 4L * m * k), (byte*)wp), [], y);
        return y;
    }
}

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
    /// The down projection of silu(gate) · up: decode rows (the GEMV reading gate|up pairs) and a longer batch (swiglu
    /// kernel + GEMM) against the CPU's SwiGLU (rounded as the precision stores it) and Linear.
    /// </summary>
    [Theory]
    [InlineData(CudaPrecision.BFloat16, 1, 4096, 1024)]
    [InlineData(CudaPrecision.BFloat16, 3, 300, 14336)]
    [InlineData(CudaPrecision.BFloat16, 9, 256, 512)]
    [InlineData(CudaPrecision.Float32, 2, 256, 512)]
    public void SwiGluLinearMatchesCpu(CudaPrecision precision, int n, int m, int inter)
    {
        var ops = Gpu.Ops(precision);
        var gateUp = Gpu.Rounded(ops, Gpu.Random(16, n * 2 * inter, 2f));
        var w = Gpu.Rounded(ops, Gpu.Random(17, m * inter, 0.05f));
        var hidden = new float[n * inter];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < inter; i++)
            {
                float g = gateUp[r * 2 * inter + i], u = gateUp[r * 2 * inter + inter + i];
                hidden[r * inter + i] = g / (1f + MathF.Exp(-g)) * u;
            }
        var expected = CpuLinear(Gpu.Rounded(ops, hidden), w, n, m, inter);

        using var gd = Gpu.Act(ops, gateUp);
        using var wd = Gpu.Act(ops, w);
        using var hd = ops.Device.Allocate((long)n * inter * ops.ActBytes);
        using var yd = ops.Device.Allocate((long)n * m * ops.ActBytes);
        ops.SwiGluLinear(gd.Pointer, hd.Pointer, wd.Pointer, yd.Pointer, n, m, inter);

        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, n * m), Close.For(ops), $"swiglu + linear {n}x{inter}·{m}x{inter}ᵀ");
    }

    /// <summary>The CPU twin: <see cref="Linear.Forward"/> over float32 weights.</summary>
    private static float[] CpuLinear(float[] x, float[] w, int n, int m, int k)
    {
        var y = new float[n * m];
        fixed (float* wp = w)
            Linear.Forward(x, n, new WeightTensor(new TensorInfo("w", "test", DType.F32, [m, k], 0, 4L * m * k), (byte*)wp), [], y);
        return y;
    }
}

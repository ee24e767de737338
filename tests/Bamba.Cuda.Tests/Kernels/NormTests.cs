using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

public class NormTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 1, 64)]
    [InlineData(CudaPrecision.Float32, 5, 4096)]
    [InlineData(CudaPrecision.Float32, 3, 100)]
    [InlineData(CudaPrecision.BFloat16, 9, 128)]
    public void RmsNormMatchesCpu(CudaPrecision precision, int rows, int width)
    {
        var ops = Gpu.Ops(precision);
        var x = Gpu.Random(3, rows * width, 3f); // the float32 residual stream
        var w = Gpu.Random(4, width);
        var expected = new float[x.Length];
        Norms.RmsNorm(x, w, 1e-5f, expected);

        using var xd = Gpu.F32(x);
        using var wd = Gpu.F32(w);
        using var yd = ops.Device.Allocate((long)x.Length * ops.ActBytes);
        ops.RmsNorm(xd.Pointer, wd.Pointer, yd.Pointer, rows, width, 1e-5f);

        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, x.Length), Close.For(ops), "rmsnorm");
    }

    /// <summary>The fused residual add + norm: x gains delta (activation type) in place, y is the norm of the new x.</summary>
    [Theory]
    [InlineData(CudaPrecision.Float32, 3, 4096)]
    [InlineData(CudaPrecision.Float32, 2, 100)]
    [InlineData(CudaPrecision.BFloat16, 5, 4096)]
    [InlineData(CudaPrecision.Float32, 3, 4096, 0.22f)] // Granite's residual_multiplier
    [InlineData(CudaPrecision.BFloat16, 2, 1536, 0.22f)]
    public void AddRmsNormMatchesCpu(CudaPrecision precision, int rows, int width, float scale = 1f)
    {
        var ops = Gpu.Ops(precision);
        var x = Gpu.Random(8, rows * width, 3f);
        var delta = Gpu.Rounded(ops, Gpu.Random(9, rows * width, 2f));
        var w = Gpu.Random(10, width);
        var sum = x.Zip(delta, (a, b) => a + b * scale).ToArray();
        var expected = new float[x.Length];
        Norms.RmsNorm(sum, w, 1e-5f, expected);

        using var xd = Gpu.F32(x);
        using var dd = Gpu.Act(ops, delta);
        using var wd = Gpu.F32(w);
        using var yd = ops.Device.Allocate((long)x.Length * ops.ActBytes);
        ops.AddRmsNorm(xd.Pointer, dd.Pointer, wd.Pointer, yd.Pointer, rows, width, 1e-5f, scale);

        Assert.Equal(sum, Gpu.ReadF32(xd.Pointer, x.Length));
        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, x.Length), Close.For(ops), "add + rmsnorm");
    }

    /// <summary>z is read from a wider row (the in_proj output), as the Mamba mixer does; groups of the full width and smaller.</summary>
    [Theory]
    [InlineData(CudaPrecision.Float32, 4, 256, 256)]
    [InlineData(CudaPrecision.Float32, 3, 256, 64)]
    [InlineData(CudaPrecision.Float32, 1, 8192, 8192)]
    [InlineData(CudaPrecision.BFloat16, 6, 512, 512)]
    public void GatedRmsNormMatchesCpu(CudaPrecision precision, int rows, int width, int group)
    {
        var ops = Gpu.Ops(precision);
        int zStride = width * 2 + 40;
        var y = Gpu.Rounded(ops, Gpu.Random(5, rows * width, 2f));
        var zRows = Gpu.Rounded(ops, Gpu.Random(6, rows * zStride, 3f));
        var w = Gpu.Random(7, width);
        var z = new float[rows * width];
        for (int r = 0; r < rows; r++) zRows.AsSpan(r * zStride, width).CopyTo(z.AsSpan(r * width));
        var expected = (float[])y.Clone();
        Norms.GatedRmsNorm(expected, z, w, 1e-6f, group);

        using var yd = Gpu.Act(ops, y);
        using var zd = Gpu.Act(ops, zRows);
        using var wd = Gpu.F32(w);
        ops.GatedRmsNorm(yd.Pointer, zd.Pointer, zStride, wd.Pointer, rows, width, group, 1e-6f);

        Close.Assert(expected, Gpu.ReadAct(ops, yd.Pointer, y.Length), Close.For(ops), "gated rmsnorm");
    }
}

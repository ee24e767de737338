namespace Bamba.Backends.Cuda.Bench;

/// <summary>The device's physical limits, measured in the run that reports against them.</summary>
public static class GpuLimits
{
    /// <summary>Device-to-device copy of 1 GiB, timed with events: (bytes read + bytes written) per second, best of 3.</summary>
    public static double CopyGBps(CudaDevice device, long bytes = 1L << 30, int passes = 4)
    {
        using var a = device.AllocateZeroed(bytes);
        using var b = device.AllocateZeroed(bytes);
        device.CopyDevice(b.Pointer, a.Pointer, bytes);
        double seconds = Best(device, 3, () =>
        {
            for (int i = 0; i < passes; i++) device.CopyDevice(i % 2 == 0 ? b.Pointer : a.Pointer, i % 2 == 0 ? a.Pointer : b.Pointer, bytes);
        });
        return 2.0 * bytes * passes / seconds / 1e9;
    }

    /// <summary>
    /// The tensor cores' rate on a large bf16 GEMM through cuBLASLt (<paramref name="size"/>³, fp32 accumulation):
    /// 2·size³ floating-point operations per product, best of 3 timings of <paramref name="reps"/> products, in TFLOP/s.
    /// </summary>
    public static double GemmTflops(CudaOps ops, int size = 8192, int reps = 8)
    {
        long elements = (long)size * size;
        using var x = ops.Device.Allocate(elements * ops.ActBytes);
        using var w = ops.Device.Allocate(elements * ops.ActBytes);
        using var y = ops.Device.Allocate(elements * ops.ActBytes);
        ops.FillUniform(x.Pointer, elements, 1, 1f);
        ops.FillUniform(w.Pointer, elements, 2, 1f);
        ops.Gemm.Linear(x.Pointer, w.Pointer, y.Pointer, size, size, size, ops.Precision);
        double seconds = Best(ops.Device, 3, () =>
        {
            for (int i = 0; i < reps; i++) ops.Gemm.Linear(x.Pointer, w.Pointer, y.Pointer, size, size, size, ops.Precision);
        });
        return 2.0 * elements * size * reps / seconds / 1e12;
    }

    /// <summary>The shortest of <paramref name="trials"/> event-timed runs of <paramref name="work"/>, in seconds.</summary>
    private static double Best(CudaDevice device, int trials, Action work)
    {
        using var start = device.CreateEvent();
        using var end = device.CreateEvent();
        double best = double.MaxValue;
        for (int t = 0; t < trials; t++)
        {
            start.Record();
            work();
            end.Record();
            best = Math.Min(best, end.MillisecondsSince(start) / 1000);
        }
        return best;
    }
}

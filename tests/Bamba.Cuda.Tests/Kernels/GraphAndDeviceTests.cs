using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

public class GraphAndDeviceTests
{
    /// <summary>A captured graph replays its kernels: two adds captured, replayed three times.</summary>
    [Fact]
    public void CapturedGraphReplays()
    {
        var ops = Gpu.Ops();
        var x = Gpu.Random(100, 1000);
        var y = Gpu.Random(101, 1000);
        using var xd = Gpu.F32(x);
        using var yd = Gpu.F32(y);
        ops.Device.Synchronize();
        using var graph = ops.Device.Capture(() =>
        {
            ops.AddResidual(xd.Pointer, yd.Pointer, x.Length);
            ops.AddResidual(xd.Pointer, yd.Pointer, x.Length);
        });
        for (int i = 0; i < 3; i++) graph.Launch();
        var got = Gpu.ReadF32(xd.Pointer, x.Length);
        for (int i = 0; i < x.Length; i++)
        {
            float e = x[i];
            for (int j = 0; j < 6; j++) e += y[i];
            Assert.Equal(e, got[i]);
        }
    }

    [Fact]
    public void EventsTimeGpuWork()
    {
        var ops = Gpu.Ops();
        using var start = ops.Device.CreateEvent();
        using var end = ops.Device.CreateEvent();
        using var buffer = ops.Device.AllocateZeroed(1 << 20);
        start.Record();
        ops.AddResidual(buffer.Pointer, buffer.Pointer, 1 << 18);
        end.Record();
        Assert.True(end.MillisecondsSince(start) >= 0);
        Assert.Contains("sm_", ops.Device.Architecture);
    }

    /// <summary>Runs everywhere: with no GPU or driver the failure is one BambaException line, "CUDA is not available: …".</summary>
    [Fact]
    public void OpenSaysWhyCudaIsUnavailable()
    {
        string? reason = CudaDevice.UnavailableReason();
        if (reason is null) return; // a GPU is here; the other tests cover it
        var e = Assert.Throws<BambaException>(() => CudaDevice.Open());
        Assert.StartsWith("CUDA is not available: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

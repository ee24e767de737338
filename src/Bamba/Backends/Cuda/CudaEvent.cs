using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>A CUDA event on the device's stream: for timing GPU work without host-side noise.</summary>
public sealed class CudaEvent : IDisposable
{
    private readonly CudaDevice _device;
    private readonly EventHandle _handle;

    internal CudaEvent(CudaDevice device, EventHandle handle) { _device = device; _handle = handle; }

    public void Record()
    {
        _device.MakeCurrent();
        CudaCheck.Driver(DriverApi.cuEventRecord(_handle.DangerousGetHandle(), _device.Stream), "cuEventRecord");
    }

    public void Synchronize() => CudaCheck.Driver(DriverApi.cuEventSynchronize(_handle.DangerousGetHandle()), "cuEventSynchronize");

    /// <summary>Milliseconds between <paramref name="start"/> and this event (both recorded and complete).</summary>
    public float MillisecondsSince(CudaEvent start)
    {
        Synchronize();
        CudaCheck.Driver(DriverApi.cuEventElapsedTime(out float ms, start._handle.DangerousGetHandle(), _handle.DangerousGetHandle()), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose() => _handle.Dispose();
}

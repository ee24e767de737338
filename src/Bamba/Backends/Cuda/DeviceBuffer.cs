using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>A device allocation (cuMemAlloc), freed on Dispose or by its finalizer.</summary>
public sealed class DeviceBuffer : IDisposable
{
    private readonly DeviceMemoryHandle _handle;

    internal DeviceBuffer(DeviceMemoryHandle handle, long bytes) { _handle = handle; Bytes = bytes; }

    public long Bytes { get; }

    /// <summary>The CUdeviceptr; valid while this buffer is alive.</summary>
    public ulong Pointer => _handle.IsClosed ? throw new ObjectDisposedException(nameof(DeviceBuffer)) : _handle.Pointer;

    public void Dispose() => _handle.Dispose();
}

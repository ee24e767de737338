namespace Bamba.Backends.Cuda;

/// <summary>Grow-only named work buffers, reused across calls so steady-state decode allocates nothing.</summary>
public sealed class DeviceScratch(CudaDevice device) : IDisposable
{
    private readonly Dictionary<string, DeviceBuffer> _buffers = new(StringComparer.Ordinal);

    /// <summary>Counts allocations: a captured CUDA graph holds the pointers of the generation it was captured in.</summary>
    public int Generation { get; private set; }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes; its previous contents are not kept when it grows.</summary>
    public ulong Get(string name, long bytes)
    {
        if (_buffers.TryGetValue(name, out var b) && b.Bytes >= bytes) return b.Pointer;
        if (b is not null)
        {
            device.Synchronize(); // queued kernels may still use the old buffer
            b.Dispose();
        }
        // Grow by half again so a slowly growing batch does not reallocate every call.
        var fresh = device.Allocate(Math.Max(bytes, (b?.Bytes ?? 0) * 3 / 2));
        Generation++;
        _buffers[name] = fresh;
        return fresh.Pointer;
    }

    public long Bytes => _buffers.Values.Sum(b => b.Bytes);

    public void Dispose()
    {
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
    }
}

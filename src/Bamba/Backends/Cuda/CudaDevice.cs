using System.Runtime.InteropServices;
using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>
/// One GPU: its retained primary context and the single stream every operation of this backend is ordered on.
/// Methods make the context current first, so callers may come from any thread (the driver's current context is
/// per thread).
/// </summary>
public sealed unsafe class CudaDevice : IDisposable
{
    private readonly ContextHandle _context;
    private readonly StreamHandle _stream;

    private CudaDevice(int ordinal, ContextHandle context, StreamHandle stream)
    {
        Ordinal = ordinal;
        _context = context;
        _stream = stream;
        Name = ReadName(ordinal);
        ComputeMajor = Attribute(DriverApi.AttributeComputeCapabilityMajor);
        ComputeMinor = Attribute(DriverApi.AttributeComputeCapabilityMinor);
        MultiprocessorCount = Attribute(DriverApi.AttributeMultiprocessorCount);
        MaxSharedMemoryPerBlockOptin = Attribute(DriverApi.AttributeMaxSharedMemoryPerBlockOptin);
        CudaCheck.Driver(DriverApi.cuDeviceTotalMem(out nuint total, ordinal), "cuDeviceTotalMem");
        TotalMemory = (long)total;
    }

    public int Ordinal { get; }
    public string Name { get; }
    public int ComputeMajor { get; }
    public int ComputeMinor { get; }
    public int MultiprocessorCount { get; }
    public int MaxSharedMemoryPerBlockOptin { get; }
    public long TotalMemory { get; }

    /// <summary>NVRTC's target: the real architecture, with Hopper's arch-specific 'a' variant (sm_90a).</summary>
    public string Architecture => $"sm_{ComputeMajor}{ComputeMinor}{(ComputeMajor == 9 && ComputeMinor == 0 ? "a" : "")}";

    internal IntPtr Stream => _stream.DangerousGetHandle();
    internal ContextHandle Context => _context;

    /// <summary>Opens GPU <paramref name="ordinal"/>, or throws "CUDA is not available: reason".</summary>
    public static CudaDevice Open(int ordinal = 0)
    {
        if (TryOpen(ordinal, out var device, out var reason)) return device!;
        throw new BambaException("CUDA is not available: " + reason);
    }

    /// <summary>Whether a CUDA device can be used here; <paramref name="reason"/> says why not.</summary>
    public static bool TryOpen(int ordinal, out CudaDevice? device, out string reason)
    {
        device = null;
        NativeLibraries.EnsureResolver();
        if (!NativeLibraries.CanLoad(NativeLibraries.Driver))
        {
            reason = $"the NVIDIA driver library was not found ({NativeLibraries.Describe(NativeLibraries.Driver)})";
            return false;
        }
        int result = DriverApi.cuInit(0);
        if (result != 0) { reason = "cuInit failed: " + CudaCheck.DriverErrorText(result); return false; }
        CudaCheck.Driver(DriverApi.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (count == 0) { reason = "no CUDA device found"; return false; }
        if (ordinal < 0 || ordinal >= count) { reason = $"device {ordinal} requested, {count} present"; return false; }
        CudaCheck.Driver(DriverApi.cuDeviceGet(out int handle, ordinal), "cuDeviceGet");
        CudaCheck.Driver(DriverApi.cuDevicePrimaryCtxRetain(out IntPtr ctx, handle), "cuDevicePrimaryCtxRetain");
        var context = new ContextHandle(ctx, handle);
        context.MakeCurrent();
        CudaCheck.Driver(DriverApi.cuStreamCreate(out IntPtr stream, DriverApi.StreamNonBlocking), "cuStreamCreate");
        device = new CudaDevice(handle, context, new StreamHandle(context, stream));
        reason = "";
        return true;
    }

    /// <summary>Reason CUDA cannot be used here, or null when a device opens (the device is closed again).</summary>
    public static string? UnavailableReason()
    {
        try
        {
            if (!TryOpen(0, out var device, out var reason)) return reason;
            device!.Dispose();
            return null;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            return e.Message;
        }
    }

    internal void MakeCurrent() => _context.MakeCurrent();

    private int Attribute(int attribute)
    {
        CudaCheck.Driver(DriverApi.cuDeviceGetAttribute(out int value, attribute, Ordinal), "cuDeviceGetAttribute");
        return value;
    }

    private static string ReadName(int device)
    {
        var buffer = stackalloc byte[256];
        CudaCheck.Driver(DriverApi.cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "CUDA device";
    }

    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuMemGetInfo(out nuint free, out nuint total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    /// <summary>Uninitialised device memory of <paramref name="bytes"/> bytes (at least 1).</summary>
    public DeviceBuffer Allocate(long bytes)
    {
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuMemAlloc(out ulong pointer, (nuint)Math.Max(bytes, 1)), $"cuMemAlloc({bytes} bytes)");
        return new DeviceBuffer(new DeviceMemoryHandle(_context, pointer), bytes);
    }

    public DeviceBuffer AllocateZeroed(long bytes)
    {
        var buffer = Allocate(bytes);
        Clear(buffer.Pointer, bytes);
        return buffer;
    }

    public DeviceBuffer Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var buffer = Allocate((long)data.Length * sizeof(T));
        Copy(buffer.Pointer, data);
        return buffer;
    }

    /// <summary>Host → device, ordered on the stream (the host data may be reused on return).</summary>
    public void Copy<T>(ulong destination, ReadOnlySpan<T> source) where T : unmanaged
    {
        if (source.IsEmpty) return;
        MakeCurrent();
        fixed (T* p = source)
            CudaCheck.Driver(DriverApi.cuMemcpyHtoDAsync(destination, p, (nuint)((long)source.Length * sizeof(T)), Stream), "cuMemcpyHtoDAsync");
    }

    public void CopyFromHost(ulong destination, void* source, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuMemcpyHtoDAsync(destination, source, (nuint)bytes, Stream), "cuMemcpyHtoDAsync");
    }

    /// <summary>Device → host; waits for the stream, so everything queued before is done.</summary>
    public void Copy<T>(Span<T> destination, ulong source) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        MakeCurrent();
        fixed (T* p = destination)
            CudaCheck.Driver(DriverApi.cuMemcpyDtoHAsync(p, source, (nuint)((long)destination.Length * sizeof(T)), Stream), "cuMemcpyDtoHAsync");
        Synchronize();
    }

    public T[] Download<T>(ulong source, long count) where T : unmanaged
    {
        var result = new T[count];
        Copy<T>(result, source);
        return result;
    }

    public void CopyDevice(ulong destination, ulong source, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, Stream), "cuMemcpyDtoDAsync");
    }

    public void Clear(ulong destination, long bytes)
    {
        if (bytes == 0) return;
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuMemsetD8Async(destination, 0, (nuint)bytes, Stream), "cuMemsetD8Async");
    }

    public void Synchronize()
    {
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuStreamSynchronize(Stream), "cuStreamSynchronize");
    }

    public CudaEvent CreateEvent()
    {
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuEventCreate(out IntPtr evt, 0), "cuEventCreate");
        return new CudaEvent(this, new EventHandle(_context, evt));
    }

    /// <summary>Records everything <paramref name="work"/> queues on the stream into a replayable CUDA graph.</summary>
    public CudaGraph Capture(Action work)
    {
        MakeCurrent();
        CudaCheck.Driver(DriverApi.cuStreamBeginCapture(Stream, DriverApi.CaptureModeThreadLocal), "cuStreamBeginCapture");
        try { work(); }
        catch
        {
            if (DriverApi.cuStreamEndCapture(Stream, out IntPtr broken) == 0 && broken != IntPtr.Zero) DriverApi.cuGraphDestroy(broken);
            throw;
        }
        CudaCheck.Driver(DriverApi.cuStreamEndCapture(Stream, out IntPtr graph), "cuStreamEndCapture");
        var graphHandle = new GraphHandle(_context, graph);
        CudaCheck.Driver(DriverApi.cuGraphInstantiateWithFlags(out IntPtr exec, graph, 0), "cuGraphInstantiateWithFlags");
        return new CudaGraph(this, graphHandle, new GraphExecHandle(_context, exec));
    }

    public void Dispose()
    {
        _stream.Dispose();
        _context.Dispose();
    }
}

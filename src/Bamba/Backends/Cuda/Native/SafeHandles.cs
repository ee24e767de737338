using System.Runtime.InteropServices;

namespace Bamba.Backends.Cuda.Native;

/// <summary>
/// A retained primary context. Every other driver handle holds a reference to it (DangerousAddRef), so the context
/// outlives whatever was allocated in it, whichever order the finalizers run in.
/// </summary>
internal sealed class ContextHandle : SafeHandle
{
    public ContextHandle(IntPtr context, int device) : base(IntPtr.Zero, true) { SetHandle(context); Device = device; }
    public int Device { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => DriverApi.cuDevicePrimaryCtxRelease(Device) == 0;

    /// <summary>Makes this context current on the calling thread (the driver keeps one per thread).</summary>
    public void MakeCurrent() => CudaCheck.Driver(DriverApi.cuCtxSetCurrent(handle), "cuCtxSetCurrent");
}

/// <summary>Base for handles created inside a context: keeps the context alive and current while releasing.</summary>
internal abstract class ContextBoundHandle : SafeHandle
{
    private readonly ContextHandle _context;

    protected ContextBoundHandle(ContextHandle context, IntPtr value) : base(IntPtr.Zero, true)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        _context = context;
        SetHandle(value);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected sealed override bool ReleaseHandle()
    {
        bool ok = DriverApi.cuCtxSetCurrent(_context.DangerousGetHandle()) == 0 && Free(handle);
        _context.DangerousRelease();
        return ok;
    }

    protected abstract bool Free(IntPtr value);
}

internal sealed class DeviceMemoryHandle(ContextHandle context, ulong pointer) : ContextBoundHandle(context, (IntPtr)pointer)
{
    public ulong Pointer => (ulong)handle;
    protected override bool Free(IntPtr value) => DriverApi.cuMemFree((ulong)value) == 0;
}

internal sealed class StreamHandle(ContextHandle context, IntPtr stream) : ContextBoundHandle(context, stream)
{
    protected override bool Free(IntPtr value) => DriverApi.cuStreamDestroy(value) == 0;
}

internal sealed class EventHandle(ContextHandle context, IntPtr evt) : ContextBoundHandle(context, evt)
{
    protected override bool Free(IntPtr value) => DriverApi.cuEventDestroy(value) == 0;
}

internal sealed class CuModuleHandle(ContextHandle context, IntPtr module) : ContextBoundHandle(context, module)
{
    protected override bool Free(IntPtr value) => DriverApi.cuModuleUnload(value) == 0;
}

internal sealed class GraphHandle(ContextHandle context, IntPtr graph) : ContextBoundHandle(context, graph)
{
    protected override bool Free(IntPtr value) => DriverApi.cuGraphDestroy(value) == 0;
}

internal sealed class GraphExecHandle(ContextHandle context, IntPtr exec) : ContextBoundHandle(context, exec)
{
    protected override bool Free(IntPtr value) => DriverApi.cuGraphExecDestroy(value) == 0;
}

internal sealed class CublasLtHandle(ContextHandle context, IntPtr value) : ContextBoundHandle(context, value)
{
    protected override bool Free(IntPtr value) => CublasLtApi.cublasLtDestroy(value) == 0;
}

/// <summary>cuBLASLt descriptors are host objects: no context needed to free them.</summary>
internal sealed class MatmulDescHandle : SafeHandle
{
    public MatmulDescHandle(IntPtr value) : base(IntPtr.Zero, true) => SetHandle(value);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => CublasLtApi.cublasLtMatmulDescDestroy(handle) == 0;
}

internal sealed class MatrixLayoutHandle : SafeHandle
{
    public MatrixLayoutHandle(IntPtr value) : base(IntPtr.Zero, true) => SetHandle(value);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => CublasLtApi.cublasLtMatrixLayoutDestroy(handle) == 0;
}

internal sealed class MatmulPreferenceHandle : SafeHandle
{
    public MatmulPreferenceHandle(IntPtr value) : base(IntPtr.Zero, true) => SetHandle(value);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => CublasLtApi.cublasLtMatmulPreferenceDestroy(handle) == 0;
}

using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>One kernel argument as the driver reads it: a pointer to its value (8 bytes hold any of ours).</summary>
public readonly struct KernelArg
{
    internal readonly ulong Bits;
    private KernelArg(ulong bits) => Bits = bits;

    public static implicit operator KernelArg(int v) => new((uint)v);
    public static implicit operator KernelArg(long v) => new((ulong)v);
    public static implicit operator KernelArg(ulong v) => new(v);
    public static implicit operator KernelArg(float v) => new(BitConverter.SingleToUInt32Bits(v));
    public static implicit operator KernelArg(DeviceBuffer b) => new(b.Pointer);
}

public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(int x) => new((uint)x);
    public static Dim3 Of(long x, long y = 1, long z = 1) => new(checked((uint)x), checked((uint)y), checked((uint)z));
}

/// <summary>A loaded cubin and its kernels by name.</summary>
public sealed unsafe class KernelModule : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CuModuleHandle _module;
    private readonly Dictionary<string, (IntPtr Function, int SharedLimit)> _functions = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private KernelModule(CudaDevice device, CuModuleHandle module) { _device = device; _module = module; }

    public static KernelModule Load(CudaDevice device, byte[] cubin)
    {
        device.MakeCurrent();
        IntPtr module;
        fixed (byte* p = cubin) CudaCheck.Driver(DriverApi.cuModuleLoadData(out module, p), "cuModuleLoadData");
        return new KernelModule(device, new CuModuleHandle(device.Context, module));
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, int sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0) return; // nothing to do (an empty run)
        _device.MakeCurrent();
        var function = Function(kernel, sharedBytes);
        var values = stackalloc ulong[args.Length];
        var pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++) { values[i] = args[i].Bits; pointers[i] = values + i; }
        CudaCheck.Driver(DriverApi.cuLaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedBytes,
            _device.Stream, pointers, null), $"cuLaunchKernel({kernel})");
    }

    private IntPtr Function(string kernel, int sharedBytes)
    {
        lock (_lock)
        {
            if (!_functions.TryGetValue(kernel, out var entry))
            {
                CudaCheck.Driver(DriverApi.cuModuleGetFunction(out IntPtr f, _module.DangerousGetHandle(), kernel), $"cuModuleGetFunction({kernel})");
                entry = (f, 48 * 1024);
            }
            // Dynamic shared memory above 48 KiB must be opted into per function.
            if (sharedBytes > entry.SharedLimit)
            {
                CudaCheck.Driver(DriverApi.cuFuncSetAttribute(entry.Function, DriverApi.FunctionAttributeMaxDynamicSharedSize, sharedBytes),
                    $"cuFuncSetAttribute({kernel})");
                entry.SharedLimit = sharedBytes;
            }
            _functions[kernel] = entry;
            return entry.Function;
        }
    }

    public void Dispose() => _module.Dispose();
}

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

/// <summary>
/// A loaded cubin and its kernels by name. The kernels <see cref="ProgrammaticKernels"/> allows are launched with
/// programmatic dependent launch (Hopper and later): the GPU may start them while the previous kernel's last blocks
/// still run, which hides most of the gap between two short kernels (a decode step is ~300 of them) and lets a GEMV
/// fetch its first weights meanwhile.
/// </summary>
public sealed unsafe class KernelModule : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CuModuleHandle _module;
    private readonly ProgrammaticKernels _programmatic;
    private string? _previous; // the last kernel launched here: the stream is the device's one
    private readonly Dictionary<string, (IntPtr Function, int SharedLimit)> _functions = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private KernelModule(CudaDevice device, CuModuleHandle module, ProgrammaticKernels programmatic)
    {
        _device = device;
        _module = module;
        _programmatic = programmatic;
    }

    /// <summary>
    /// Loads <paramref name="cubin"/>; <paramref name="programmatic"/> kernels get programmatic launches on devices of
    /// compute capability 9.0 and later unless <c>BAMBA_PDL=0</c> (for comparing the two).
    /// </summary>
    public static KernelModule Load(CudaDevice device, byte[] cubin, ProgrammaticKernels? programmatic = null)
    {
        device.MakeCurrent();
        IntPtr module;
        fixed (byte* p = cubin) CudaCheck.Driver(DriverApi.cuModuleLoadData(out module, p), "cuModuleLoadData");
        bool enabled = device.ComputeMajor >= 9 && Environment.GetEnvironmentVariable("BAMBA_PDL") != "0";
        return new KernelModule(device, new CuModuleHandle(device.Context, module),
            enabled && programmatic is not null ? programmatic : ProgrammaticKernels.None);
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, int sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0) return; // nothing to do (an empty run)
        _device.MakeCurrent();
        var function = Function(kernel, sharedBytes);
        var values = stackalloc ulong[args.Length];
        var pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++) { values[i] = args[i].Bits; pointers[i] = values + i; }
        var attribute = new DriverApi.LaunchAttribute { Id = DriverApi.LaunchAttributeProgrammaticStreamSerialization, Value = 1 };
        var config = new DriverApi.LaunchConfig
        {
            GridX = grid.X, GridY = grid.Y, GridZ = grid.Z, BlockX = block.X, BlockY = block.Y, BlockZ = block.Z,
            SharedBytes = (uint)sharedBytes, Stream = _device.Stream,
            Attributes = &attribute, AttributeCount = _programmatic.MayOverlap(kernel, _previous) ? 1u : 0u,
        };
        _previous = kernel;
        CudaCheck.Driver(DriverApi.cuLaunchKernelEx(&config, function, pointers, null), $"cuLaunchKernelEx({kernel})");
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

using System.Runtime.InteropServices;

namespace Bamba.Backends.Cuda.Native;

/// <summary>NVRTC, the run-time CUDA C++ compiler: source → cubin for the device's architecture.</summary>
internal static unsafe partial class NvrtcApi
{
    private const string Lib = NativeLibraries.Nvrtc;

    [LibraryImport(Lib)] public static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)]
    public static partial int nvrtcCreateProgram(out IntPtr program, byte* source, byte* name, int headers, byte** headerSources, byte** includeNames);
    [LibraryImport(Lib)] public static partial int nvrtcDestroyProgram(ref IntPtr program);
    [LibraryImport(Lib)] public static partial int nvrtcCompileProgram(IntPtr program, int optionCount, byte** options);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLogSize(IntPtr program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLog(IntPtr program, byte* log);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBINSize(IntPtr program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBIN(IntPtr program, byte* cubin);
    [LibraryImport(Lib)] public static partial byte* nvrtcGetErrorString(int result);
}

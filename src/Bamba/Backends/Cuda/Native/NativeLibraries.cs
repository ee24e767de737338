using System.Reflection;
using System.Runtime.InteropServices;

namespace Bamba.Backends.Cuda.Native;

/// <summary>
/// Maps the logical library names used by the imports to the versioned Linux files the driver and toolkit install.
/// The toolkit's folders are tried too, because CUDA's lib64 is often not in the loader's cache.
/// </summary>
internal static class NativeLibraries
{
    public const string Driver = "bamba-cuda";
    public const string Nvrtc = "bamba-nvrtc";
    public const string CublasLt = "bamba-cublaslt";

    private static readonly Dictionary<string, string[]> Candidates = new(StringComparer.Ordinal)
    {
        [Driver] = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"],
        [Nvrtc] = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so", "nvrtc64_130_0.dll", "nvrtc64_120_0.dll"],
        [CublasLt] = ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so", "cublasLt64_13.dll", "cublasLt64_12.dll"],
    };

    private static int _installed;

    /// <summary>Installs the resolver once; every entry point into native code calls this first.</summary>
    public static void EnsureResolver()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        Candidates.TryGetValue(name, out var files) && TryLoad(files, out var handle) ? handle : IntPtr.Zero;

    /// <summary>Loads the first of <paramref name="files"/> found by the loader or in a CUDA toolkit folder.</summary>
    public static bool TryLoad(string[] files, out IntPtr handle)
    {
        foreach (var file in files)
            if (NativeLibrary.TryLoad(file, out handle)) return true;
        foreach (var dir in ToolkitLibraryDirectories())
            foreach (var file in files)
                if (NativeLibrary.TryLoad(Path.Combine(dir, file), out handle)) return true;
        handle = IntPtr.Zero;
        return false;
    }

    /// <summary>Whether a library of this logical name can be loaded (for error messages that say what is missing).</summary>
    public static bool CanLoad(string name) => TryLoad(Candidates[name], out _);

    public static string Describe(string name) => string.Join(", ", Candidates[name].Where(f => f.StartsWith("lib", StringComparison.Ordinal)));

    private static IEnumerable<string> ToolkitLibraryDirectories()
    {
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } home)
            {
                yield return Path.Combine(home, "lib64");
                yield return Path.Combine(home, "lib");
            }
        yield return "/usr/local/cuda/lib64";
        yield return "/usr/local/cuda/targets/x86_64-linux/lib";
    }
}

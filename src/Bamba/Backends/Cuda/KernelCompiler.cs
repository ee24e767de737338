using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Compiles the embedded kernel sources with NVRTC for the device's architecture, caching the cubin on disk
/// (~/.cache/bamba/kernels, or $BAMBA_KERNEL_CACHE) under a hash of the source, the architecture, the options and
/// the NVRTC version, so a warm start skips the compiler.
/// </summary>
internal static unsafe partial class KernelCompiler
{
    private const string ResourcePrefix = "Bamba.Kernels.";

    /// <summary>All kernel sources as one translation unit: common.cuh first, then the .cu files by name.</summary>
    public static string KernelSource()
    {
        var assembly = typeof(KernelCompiler).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).ToList();
        var common = names.Single(n => n.EndsWith("common.cuh", StringComparison.Ordinal));
        var sb = new StringBuilder(Read(assembly, common));
        foreach (var name in names.Where(n => n.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            sb.Append("\n// ---- ").Append(name[ResourcePrefix.Length..]).Append('\n').Append(Read(assembly, name));
        return sb.ToString();
    }

    /// <summary>
    /// The kernels that may be launched before the previous kernel has finished (common.cuh): those whose body begins
    /// with <c>pdl_enter();</c> (they wait for the previous kernel's writes before anything else) and those that begin
    /// with <c>PDL_WEIGHTS_FIRST;</c> (they read only weights before that wait).
    /// </summary>
    public static ProgrammaticKernels ProgrammaticKernels(string source)
    {
        var waitFirst = new HashSet<string>(StringComparer.Ordinal);
        var weightsFirst = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in KernelPrologue().Matches(source))
            (m.Groups[2].Value == "pdl_enter();" ? waitFirst : weightsFirst).Add(m.Groups[1].Value);
        return new ProgrammaticKernels(waitFirst, weightsFirst);
    }

    [GeneratedRegex(@"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\([^)]*\)\s*\{\s*(pdl_enter\(\);|PDL_WEIGHTS_FIRST;)")]
    private static partial Regex KernelPrologue();

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static byte[] CompileCached(string source, string programName, string architecture, IReadOnlyList<string> defines)
    {
        var options = new List<string> { $"--gpu-architecture={architecture}", "-std=c++17" };
        options.AddRange(defines.Select(d => "-D" + d));
        string version = NvrtcVersion();
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", [source, version, .. options])))).ToLowerInvariant();
        string? path = CachePath(key);
        if (path is not null && File.Exists(path))
        {
            try { return File.ReadAllBytes(path); }
            catch (IOException) { }
        }
        var cubin = Compile(source, programName, options);
        if (path is not null) TryStore(path, cubin);
        return cubin;
    }

    private static string NvrtcVersion()
    {
        NativeLibraries.EnsureResolver();
        if (!NativeLibraries.CanLoad(NativeLibraries.Nvrtc))
            throw new BambaException($"CUDA is not available: NVRTC was not found ({NativeLibraries.Describe(NativeLibraries.Nvrtc)}; set CUDA_HOME)");
        CudaCheck.Nvrtc(NvrtcApi.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
        return $"nvrtc {major}.{minor}";
    }

    private static byte[] Compile(string source, string programName, List<string> options)
    {
        var src = Utf8(source);
        var name = Utf8(programName);
        var optionBytes = options.Select(Utf8).ToArray();
        var handles = optionBytes.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
        try
        {
            var optionPointers = stackalloc byte*[handles.Length];
            for (int i = 0; i < handles.Length; i++) optionPointers[i] = (byte*)handles[i].AddrOfPinnedObject();
            IntPtr program;
            fixed (byte* s = src, n = name)
                CudaCheck.Nvrtc(NvrtcApi.nvrtcCreateProgram(out program, s, n, 0, null, null), "nvrtcCreateProgram");
            try
            {
                int result = NvrtcApi.nvrtcCompileProgram(program, handles.Length, optionPointers);
                if (result != 0)
                    throw new CudaException($"nvrtcCompileProgram failed for {programName} ({string.Join(' ', options)}):\n{Log(program)}", result);
                CudaCheck.Nvrtc(NvrtcApi.nvrtcGetCUBINSize(program, out nuint size), "nvrtcGetCUBINSize");
                var cubin = new byte[(int)size];
                fixed (byte* c = cubin) CudaCheck.Nvrtc(NvrtcApi.nvrtcGetCUBIN(program, c), "nvrtcGetCUBIN");
                return cubin;
            }
            finally { NvrtcApi.nvrtcDestroyProgram(ref program); }
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
    }

    private static string Log(IntPtr program)
    {
        if (NvrtcApi.nvrtcGetProgramLogSize(program, out nuint size) != 0 || size <= 1) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* p = log) NvrtcApi.nvrtcGetProgramLog(program, p);
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");

    private static string? CachePath(string key)
    {
        string? root = Environment.GetEnvironmentVariable("BAMBA_KERNEL_CACHE");
        if (string.IsNullOrEmpty(root))
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            string? baseDir = !string.IsNullOrEmpty(xdg) ? xdg : home.Length > 0 ? Path.Combine(home, ".cache") : null;
            if (baseDir is null) return null;
            root = Path.Combine(baseDir, "bamba", "kernels");
        }
        return Path.Combine(root, key + ".cubin");
    }

    /// <summary>Best effort: a read-only home only costs a recompile next time.</summary>
    private static void TryStore(string path, byte[] cubin)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, cubin);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Kernels that wait for their predecessor's writes first (<see cref="WaitFirst"/>), and kernels that read weights
/// before that wait (<see cref="WeightsFirst"/>): those may only follow a kernel of either set, which never writes weights.
/// </summary>
public sealed record ProgrammaticKernels(IReadOnlySet<string> WaitFirst, IReadOnlySet<string> WeightsFirst)
{
    public static readonly ProgrammaticKernels None = new(new HashSet<string>(), new HashSet<string>());

    /// <summary>Whether <paramref name="kernel"/>, launched right after <paramref name="previous"/>, may start before it ends.</summary>
    public bool MayOverlap(string kernel, string? previous) =>
        WaitFirst.Contains(kernel) || (WeightsFirst.Contains(kernel) && previous is not null && (WaitFirst.Contains(previous) || WeightsFirst.Contains(previous)));
}

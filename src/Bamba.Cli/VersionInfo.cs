using System.Reflection;
using System.Runtime.InteropServices;
using Bamba.Backends.Cuda;

namespace Bamba.Cli;

/// <summary><c>bamba --version</c>: the version and commit built in, the .NET runtime, and whether a GPU is usable.</summary>
internal static class VersionInfo
{
    public static string Describe()
    {
        // The SDK appends "+COMMIT" to the informational version when it builds from a git checkout.
        string informational = typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var parts = informational.Split('+', 2);
        return string.Join('\n',
            $"bamba {parts[0]}",
            $"commit   {(parts.Length > 1 ? parts[1] : "unknown (built outside a git checkout)")}",
            $"runtime  {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.RuntimeIdentifier}, {Environment.ProcessorCount} cores",
            $"cuda     {Cuda()}");
    }

    private static string Cuda()
    {
        if (!CudaDevice.TryOpen(0, out var device, out string reason)) return "not available: " + reason;
        using (device) return $"available: {device!.Name}";
    }
}

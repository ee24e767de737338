using System.Diagnostics;
using System.Text.Json;

namespace Bamba.Tests.Gguf;

/// <summary>
/// llama.cpp through tools/llama-cpp/greedy.mjs (node-llama-cpp 3.21.1's prebuilt CPU binary). The test setup
/// installs the pinned package from its lock file when node_modules is missing, so CI needs only node on the machine.
/// </summary>
public static class LlamaCpp
{
    private static readonly string Folder = Path.Combine(Fixtures.RepositoryRoot, "tools", "llama-cpp");
    private static readonly Lazy<string?> Installed = new(Install);

    public sealed record Run(int[] Tokens, double PrefillMs, double DecodeMs, string Version);

    public static Run Greedy(string gguf, int[] prompt, int newTokens)
    {
        if (Installed.Value is { } problem) Assert.Fail(problem);
        var (code, stdout, stderr) = Exec("node", Folder, "greedy.mjs", "--model", gguf, "--prompt", string.Join(",", prompt), "--new", newTokens.ToString(), "--threads", "2");
        Assert.True(code == 0, $"llama.cpp failed ({code}): {stderr}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = doc.RootElement;
        return new Run(r.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray(),
            r.GetProperty("prefill_ms").GetDouble(), r.GetProperty("decode_ms").GetDouble(), r.GetProperty("llama_cpp").GetString()!);
    }

    /// <summary>What llama.cpp printed when it could not run the file (the test fails if it could).</summary>
    public static string Refusal(string gguf, int[] prompt)
    {
        if (Installed.Value is { } problem) Assert.Fail(problem);
        var (code, _, stderr) = Exec("node", Folder, "greedy.mjs", "--model", gguf, "--prompt", string.Join(",", prompt), "--new", "1", "--threads", "2");
        Assert.True(code != 0, "llama.cpp ran the file");
        return stderr;
    }

    /// <summary>null when the package is there (or was just installed), else why not.</summary>
    private static string? Install()
    {
        if (Directory.Exists(Path.Combine(Folder, "node_modules", "node-llama-cpp"))) return null;
        try
        {
            var (code, _, stderr) = Exec("npm", Folder, "ci", "--no-audit", "--no-fund", "--ignore-scripts");
            return code == 0 ? null : $"npm ci in {Folder} failed: {stderr}";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"node/npm is needed for the llama.cpp tests: {e.Message}"; }
    }

    private static (int Code, string Stdout, string Stderr) Exec(string program, string directory, params string[] args)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }
}

using System.Diagnostics;
using System.Security.Cryptography;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Reproducible by default: the same greedy generation, the same prompt scoring and the same training steps, each
/// run in ten separate processes, give the same bits. Each process gets its own empty GEMM tuning file, as ten fresh
/// machines would, so any algorithm a process times for itself instead of taking the shipped choice shows up here.
/// </summary>
public sealed class TenProcessesTests : IDisposable
{
    private const int Processes = 10;
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-ten-processes-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-nemotron-h")]
    public void GreedyTokensAndPromptScoresAreTheSameInEveryProcess(string name)
    {
        Gpu.Require();
        string model = Fixtures.Model(name);
        var outputs = Enumerable.Range(0, Processes).Select(i =>
        {
            string cache = Path.Combine(_dir, $"gemm-{name}-{i}.json");
            string generated = RunBamba(cache, "generate", "--model", model, "--prompt-ids", "5,17,300,42,7,99,3,3,64", "--max-new-tokens", "32",
                "--temperature", "0", "--device", "cuda", "--format", "json");
            string scored = RunBamba(cache, "score", "--model", model, "--ids", "5,17,300,42,7,99,400,3,3,64,8,8,200,11,2,90", "--device", "cuda",
                "--format", "json");
            return generated + scored;
        }).ToArray();
        for (int i = 1; i < Processes; i++) Assert.Equal(outputs[0], outputs[i]);
    }

    [Fact]
    public void TrainingStepsWriteTheSameWeightsInEveryProcess()
    {
        Gpu.Require();
        string data = CliCall.IdsData(_dir);
        var hashes = Enumerable.Range(0, Processes).Select(i =>
        {
            string output = Path.Combine(_dir, $"train-{i}");
            RunBamba(Path.Combine(_dir, $"gemm-train-{i}.json"), "train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"),
                "--data", data, "--out", output, "--steps", "3", "--batch-tokens", "64", "--lr", "3e-3", "--eval-fraction", "0",
                "--device", "cuda", "--no-progress");
            return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(output, "model.safetensors"))));
        }).ToArray();
        Assert.All(hashes, h => Assert.Equal(hashes[0], h));
    }

    /// <summary>Runs the bamba executable in a process of its own with <paramref name="gemmCache"/> as its tuning file; returns stdout.</summary>
    private static string RunBamba(string gemmCache, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "bamba"), args)
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["BAMBA_GEMM_CACHE"] = gemmCache;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"bamba {string.Join(' ', args)} ran past three minutes");
        }
        Assert.True(process.ExitCode == 0, $"bamba {string.Join(' ', args)}: exit {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}

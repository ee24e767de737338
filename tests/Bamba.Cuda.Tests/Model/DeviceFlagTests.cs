using Bamba.Backends;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Model;

/// <summary><c>--device</c> on the CLI: cuda without a GPU is one line and exit 2; with one it generates what the CPU does.</summary>
public class DeviceFlagTests
{
    [Fact]
    public void CudaWithoutAGpuIsOneLineAndExitTwo()
    {
        if (CudaDevice.UnavailableReason() is null) Assert.Skip("a GPU is present here");
        var (code, _, err) = CliCall.Run("generate", "--model", Fixtures.Model("tiny-bamba"), "--prompt-ids", "1,2,3", "--device", "cuda");
        Assert.Equal(2, code);
        Assert.Contains("CUDA is not available: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.Equal(ComputeDevice.Cpu, ModelFactory.Resolve(ComputeDevice.Auto));
    }

    [Fact]
    public void UnknownDeviceIsAUserError()
    {
        var (code, _, err) = CliCall.Run("generate", "--model", Fixtures.Model("tiny-bamba"), "--prompt-ids", "1,2,3", "--device", "tpu");
        Assert.Equal(2, code);
        Assert.Contains("--device", err);
    }

    /// <summary>Greedy ids from the GPU (bf16) and the CPU agree on tiny-bamba for a few tokens.</summary>
    [Fact]
    public void CudaGeneratesWhatTheCpuGenerates()
    {
        Gpu.Require();
        string[] common = ["generate", "--model", Fixtures.Model("small-bamba"), "--prompt-ids", "5,17,300,42,7,99", "--max-new-tokens", "8", "--temperature", "0", "--format", "json"];
        var cpu = CliCall.Run([.. common, "--device", "cpu"]);
        var gpu = CliCall.Run([.. common, "--device", "cuda"]);
        Assert.True(cpu.Code == 0, $"cpu: exit {cpu.Code}: {cpu.Err}");
        Assert.True(gpu.Code == 0, $"gpu: exit {gpu.Code}: {gpu.Err}");
        Assert.Equal(cpu.Out, gpu.Out);
        Assert.Equal(ComputeDevice.Cuda, ModelFactory.Resolve(ComputeDevice.Auto));
    }

    /// <summary><c>score</c> on the GPU in fp32 gives the CPU's log-probabilities (within the model parity tolerance).</summary>
    [Fact]
    public void CudaScoresWhatTheCpuScores()
    {
        Gpu.Require();
        string[] common = ["score", "--model", Fixtures.Model("small-bamba"), "--ids", "5,17,300,42,7,99,1000,3,3,64", "--format", "json"];
        var cpu = CliCall.Run([.. common, "--device", "cpu"]);
        var gpu = CliCall.Run([.. common, "--device", "cuda", "--precision", "fp32"]);
        Assert.True(cpu.Code == 0, $"cpu: exit {cpu.Code}: {cpu.Err}");
        Assert.True(gpu.Code == 0, $"gpu: exit {gpu.Code}: {gpu.Err}");
        double?[] Read(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("token_logprobs")
            .EnumerateArray().Select(e => e.ValueKind == System.Text.Json.JsonValueKind.Null ? (double?)null : e.GetDouble()).ToArray();
        var expected = Read(cpu.Out);
        var actual = Read(gpu.Out);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Null(actual[0]);
        for (int t = 1; t < expected.Length; t++)
            Assert.True(Math.Abs(expected[t]!.Value - actual[t]!.Value) <= 1e-3 * Math.Max(1, Math.Abs(expected[t]!.Value)),
                $"token {t}: cpu {expected[t]}, gpu {actual[t]}");
    }
}

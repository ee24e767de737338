using Bamba.Backends;
using Bamba.Backends.Cuda;
using Bamba.Cli;

namespace Bamba.Cuda.Tests.Model;

/// <summary><c>--device</c> on the CLI: cuda without a GPU is one line and exit 2; with one it generates what the CPU does.</summary>
public class DeviceFlagTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliHost.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void CudaWithoutAGpuIsOneLineAndExitTwo()
    {
        if (CudaDevice.UnavailableReason() is null) Assert.Skip("a GPU is present here");
        var (code, _, err) = Cli("generate", "--model", Fixtures.Model("tiny-bamba"), "--prompt-ids", "1,2,3", "--device", "cuda");
        Assert.Equal(2, code);
        Assert.Contains("CUDA is not available: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.Equal(ComputeDevice.Cpu, ModelFactory.Resolve(ComputeDevice.Auto));
    }

    [Fact]
    public void UnknownDeviceIsAUserError()
    {
        var (code, _, err) = Cli("generate", "--model", Fixtures.Model("tiny-bamba"), "--prompt-ids", "1,2,3", "--device", "tpu");
        Assert.Equal(2, code);
        Assert.Contains("--device", err);
    }

    /// <summary>Greedy ids from the GPU (bf16) and the CPU agree on tiny-bamba for a few tokens.</summary>
    [Fact]
    public void CudaGeneratesWhatTheCpuGenerates()
    {
        Gpu.Require();
        string[] common = ["generate", "--model", Fixtures.Model("small-bamba"), "--prompt-ids", "5,17,300,42,7,99", "--max-new-tokens", "8", "--temperature", "0", "--format", "json"];
        var cpu = Cli([.. common, "--device", "cpu"]);
        var gpu = Cli([.. common, "--device", "cuda"]);
        Assert.Equal(0, cpu.Code);
        Assert.Equal(0, gpu.Code);
        Assert.Equal(cpu.Out, gpu.Out);
        Assert.Equal(ComputeDevice.Cuda, ModelFactory.Resolve(ComputeDevice.Auto));
    }
}

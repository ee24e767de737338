using Bamba.Backends.Cuda;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Training;

/// <summary><c>bamba train --device cuda</c>: one line and exit 2 without a GPU; with one, checkpoints that resume exactly, in every family.</summary>
public sealed class TrainDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-cuda-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Data() => CliCall.IdsData(_dir);

    private string[] Train(string data, string output, params string[] extra) =>
        ["train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--data", data, "--out", output,
         "--batch-tokens", "64", "--lr", "3e-3", "--eval-fraction", "0", "--device", "cuda", .. extra];

    [Fact]
    public void CudaWithoutAGpuIsOneLineAndExitTwo()
    {
        if (CudaDevice.UnavailableReason() is null) Assert.Skip("a GPU is present here");
        var (code, _, err) = CliCall.Run(Train(Data(), Path.Combine(_dir, "out"), "--steps", "2"));
        Assert.Equal(2, code);
        Assert.Contains("CUDA is not available: ", err);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
    }

    public static TheoryData<int> TenTimes => [.. Enumerable.Range(1, 10)];

    /// <summary>
    /// fp32 on the GPU: 2 steps, then --resume to 4, equals 4 steps straight; the loss falls and the checkpoint loads.
    /// Ten times over: it once failed on a fresh machine, where GEMM algorithms were timed anew.
    /// </summary>
    [Theory]
    [MemberData(nameof(TenTimes))]
    public void ResumedGpuTrainingEqualsAnUninterruptedRun(int repetition)
    {
        Gpu.Require();
        string data = Data(), straight = Path.Combine(_dir, $"straight{repetition}"), resumed = Path.Combine(_dir, $"resumed{repetition}");
        var r = CliCall.Run(Train(data, straight, "--steps", "4", "--precision", "fp32"));
        Assert.True(r.Code == 0, r.Err);
        Assert.True(CliCall.Run(Train(data, resumed, "--steps", "2", "--precision", "fp32")).Code == 0);
        var r2 = CliCall.Run("train", "--data", data, "--out", resumed, "--steps", "4", "--resume", "--device", "cuda", "--precision", "fp32");
        Assert.True(r2.Code == 0, r2.Err);
        using var a = WeightStore.Open(straight);
        using var b = WeightStore.Open(resumed);
        foreach (var name in new[] { "model.embed_tokens.weight", "model.layers.0.mamba.in_proj.weight", "model.layers.2.self_attn.q_proj.weight", "model.final_layernorm.weight" })
            Tolerance.AssertClose(a.Get(name).ToFloatArray(), b.Get(name).ToFloatArray(), 1e-5, name);
        using var model = Modeling.BambaModel.Load(straight);
        Assert.Equal(512, model.Config.VocabSize);
    }

    /// <summary>The default bf16 mode trains and writes an HF checkpoint whose weights are the fp32 masters.</summary>
    [Fact]
    public void Bf16TrainingWritesAnHfCheckpoint()
    {
        Gpu.Require();
        string output = Path.Combine(_dir, "bf16");
        var r = CliCall.Run(Train(Data(), output, "--steps", "20"));
        Assert.True(r.Code == 0, r.Err);
        var state = Bamba.Training.TrainerState.Read(Path.Combine(output, "trainer_state.json"));
        Assert.True(state.LastLoss < Math.Log(512) - 1, $"loss {state.LastLoss} did not fall below ln(vocab) − 1");
        using var store = WeightStore.Open(output);
        Assert.Equal(DType.F32, store.Get("model.final_layernorm.weight").DType);
    }

    /// <summary>Every family fine-tunes from its checkpoint on the GPU (the default bf16 mode) and writes a checkpoint of its own family.</summary>
    [Theory]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h")]
    public void EveryFamilyFineTunesOnTheGpu(string modelName)
    {
        Gpu.Require();
        string output = Path.Combine(_dir, modelName);
        var r = CliCall.Run("train", "--model", Fixtures.Model(modelName), "--data", Data(), "--out", output, "--batch-tokens", "64",
            "--lr", "3e-3", "--eval-fraction", "0", "--device", "cuda", "--steps", "3");
        Assert.True(r.Code == 0, r.Err);
        using var model = Modeling.BambaModel.Load(output);
        Assert.Equal(Configuration.BambaConfigReader.Load(Fixtures.Model(modelName)).ModelType, model.Config.ModelType);
    }
}

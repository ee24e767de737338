using Bamba.Backends.Cuda;
using Bamba.Generation;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// <see cref="Generator"/> on the CUDA model picks tokens on the GPU: greedy gives the host path's tokens (the same
/// model's downloaded logits, argmax on the CPU) token for token, batched and streamed; a seeded draw repeats.
/// </summary>
public class GeneratorDeviceSamplingTests
{
    public static TheoryData<string, CudaPrecision> Cases() => new()
    {
        { "tiny-bamba", CudaPrecision.Float32 },
        { "tiny-bamba", CudaPrecision.BFloat16 },
        { "tiny-bamba-bf16-sharded", CudaPrecision.BFloat16 },
        { "small-bamba", CudaPrecision.BFloat16 },
    };

    private static int[][] Prompts(int vocab)
    {
        var random = new Random(21);
        return [.. new[] { 37, 5, 1 }.Select(n => Enumerable.Range(0, n).Select(_ => random.Next(3, vocab)).ToArray())];
    }

    private static readonly GenerationOptions Greedy = new() { MaxNewTokens = 24, EosTokenIds = [] };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyBatchEqualsHostSampling(string modelName, CudaPrecision precision)
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model(modelName), precision);
        var prompts = Prompts(model.Config.VocabSize);

        var host = new Generator(model) { UseDeviceSampling = false }.Generate(prompts, Greedy, TestContext.Current.CancellationToken);
        var device = new Generator(model).Generate(prompts, Greedy, TestContext.Current.CancellationToken);

        for (int i = 0; i < prompts.Length; i++) Assert.Equal(host[i].TokenIds, device[i].TokenIds);
    }

    /// <summary>One sequence decodes through the CUDA graph on the device path and plainly on the host path.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async Task GreedyStreamEqualsHostSampling(string modelName, CudaPrecision precision)
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model(modelName), precision);
        var prompt = Prompts(model.Config.VocabSize)[0];

        async Task<List<int>> Stream(bool onDevice)
        {
            var ids = new List<int>();
            await foreach (int id in new Generator(model) { UseDeviceSampling = onDevice }.StreamAsync(prompt, Greedy, TestContext.Current.CancellationToken)) ids.Add(id);
            return ids;
        }

        Assert.Equal(await Stream(onDevice: false), await Stream(onDevice: true));
    }

    [Fact]
    public void SeededDeviceSamplingRepeatsAndRowsDiffer()
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.BFloat16);
        var prompt = Prompts(model.Config.VocabSize)[1];
        var options = Greedy with { Sampling = new SamplingOptions { Temperature = 1.5f, TopK = 50, TopP = 0.95f, Seed = 3 } };
        var generator = new Generator(model);

        var first = generator.Generate([prompt, prompt], options, TestContext.Current.CancellationToken);
        var again = generator.Generate([prompt, prompt], options, TestContext.Current.CancellationToken);

        Assert.Equal(first[0].TokenIds, again[0].TokenIds);
        Assert.Equal(first[1].TokenIds, again[1].TokenIds);
        Assert.NotEqual(first[0].TokenIds, first[1].TokenIds); // row 1 draws with seed + 1
    }
}

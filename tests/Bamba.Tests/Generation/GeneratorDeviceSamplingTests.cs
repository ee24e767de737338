using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Tests.Generation;

/// <summary>
/// The generator on a model that samples on its device: what it can sample goes through StepAndSample with the same
/// greedy tokens as the host path; what needs the logits (penalties, min-p) is sampled on the host.
/// </summary>
public class GeneratorDeviceSamplingTests
{
    private static readonly int[][] Prompts = [[3, 4, 5, 6, 7, 8, 9], [11], [20, 21, 22]];

    private static GenerationOptions Options(SamplingOptions sampling) => new() { MaxNewTokens = 9, EosTokenIds = [], Sampling = sampling };

    private static int[][] HostTokens(GenerationOptions options)
    {
        using var model = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        return new Generator(model).Generate(Prompts, options).Select(r => r.TokenIds).ToArray();
    }

    [Fact]
    public async Task GreedyBatchAndStreamAreSampledOnTheDeviceWithTheHostsTokens()
    {
        var options = Options(SamplingOptions.Greedy);
        var expected = HostTokens(options);
        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        var generator = new Generator(model);

        var batch = generator.Generate(Prompts, options).Select(r => r.TokenIds).ToArray();
        var streamed = new List<int>();
        await foreach (int id in generator.StreamAsync(Prompts[0], options)) streamed.Add(id);

        Assert.Equal(expected, batch);
        Assert.Equal(expected[0], streamed);
        Assert.Equal(0, model.HostCalls);
        Assert.True(model.DeviceCalls > 0);
    }

    [Fact]
    public void OptionsTheDeviceCannotSampleUseTheHostsLogits()
    {
        var options = Options(SamplingOptions.Greedy with { RepetitionPenalty = 1.3f });
        var expected = HostTokens(options);
        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));

        var tokens = new Generator(model).Generate(Prompts, options).Select(r => r.TokenIds).ToArray();

        Assert.Equal(expected, tokens);
        Assert.Equal(0, model.DeviceCalls);
        Assert.True(model.HostCalls > 0);
    }

    [Fact]
    public void DeviceSamplingCanBeTurnedOff()
    {
        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        new Generator(model) { UseDeviceSampling = false }.Generate(Prompts, Options(SamplingOptions.Greedy));
        Assert.Equal(0, model.DeviceCalls);
    }

    /// <summary>Each row draws from its own sampler, seeded seed + row as on the host, one uniform per step.</summary>
    [Fact]
    public void RowUniformsComeFromTheRowsSeededSampler()
    {
        var sampling = SamplingOptions.Greedy with { Seed = 9 };
        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));

        new Generator(model).Generate(Prompts.Take(2).ToArray(), Options(sampling) with { MaxNewTokens = 2 });

        var rows = new[] { new Sampler(sampling), new Sampler(sampling with { Seed = 10 }) };
        var expected = Enumerable.Range(0, 2).SelectMany(_ => rows.Select(r => r.NextUniform())).ToArray();
        Assert.Equal(expected, model.Uniforms);
    }
}

using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Server;
using Bamba.Server.Protocol;
using Bamba.Serving;

namespace Bamba.Tests.Server;

/// <summary>How request fields combine with the model's generation_config defaults.</summary>
public class RequestMappingTests
{
    private static ServingEngine Engine(SamplingOptions defaults) =>
        new(BambaModel.Load(Fixtures.Model("tiny-bamba")), null, TestServer.DefaultOptions, "tiny-bamba", new GenerationConfig(defaults, null, null));

    [Fact]
    public void RequestFieldsOverrideTheDefaults()
    {
        using var engine = Engine(new SamplingOptions { Temperature = 0.6f, TopP = 0.9f, TopK = 50 });
        var s = RequestMapping.Sampling(new CompletionRequest { Temperature = 0.2f, TopK = -1, Seed = -1 }, engine);
        Assert.Equal((0.2f, 0.9f, 0, ulong.MaxValue), (s.Temperature, s.TopP, s.TopK, s.Seed!.Value));
        Assert.Equal(0.6f, RequestMapping.Sampling(new CompletionRequest { TopP = 0.5f }, engine).Temperature);
    }

    [Fact]
    public void ATruncationFieldOnAGreedyDefaultSamplesAtTemperatureOne()
    {
        using var engine = Engine(SamplingOptions.Greedy);
        Assert.True(RequestMapping.Sampling(new CompletionRequest(), engine).IsGreedy);
        Assert.Equal(1f, RequestMapping.Sampling(new CompletionRequest { TopP = 0.5f }, engine).Temperature);
        Assert.True(RequestMapping.Sampling(new CompletionRequest { TopP = 0.5f, Temperature = 0 }, engine).IsGreedy);
    }

    [Fact]
    public void EachChoiceGetsItsOwnSeed()
    {
        var sampling = new SamplingOptions { Temperature = 1, Seed = 10 };
        Assert.Equal([10UL, 11UL, 12UL], Enumerable.Range(0, 3).Select(i => RequestMapping.ForChoice(sampling, i).Seed!.Value));
        Assert.Null(RequestMapping.ForChoice(sampling with { Seed = null }, 2).Seed);
    }
}

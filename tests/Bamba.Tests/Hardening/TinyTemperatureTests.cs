using Bamba.Generation;
using Bamba.Tests.Server;

namespace Bamba.Tests.Hardening;

/// <summary>Temperatures inside the documented [0, 2] but so small that logits / T overflows pick as greedy does.</summary>
public class TinyTemperatureTests
{
    public static TheoryData<float> TinyTemperatures => new(float.Epsilon, 1e-45f, 1e-38f, 1e-30f, 1e-10f, 9.9e-6f);

    [Theory]
    [MemberData(nameof(TinyTemperatures))]
    public void TheSamplerPicksTheMaximum(float temperature)
    {
        var random = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var logits = Enumerable.Range(0, 300).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
            var options = new SamplingOptions { Temperature = temperature, Seed = (ulong)trial, TopK = trial % 3 == 0 ? 10 : 0, TopP = trial % 2 == 0 ? 0.9f : 1f };
            Assert.True(options.IsGreedy);
            Assert.Equal(Sampler.ArgMax(logits), new Sampler(options).Sample(logits, []));
        }
    }

    [Fact]
    public void AtTheThresholdItStillSamples()
    {
        var options = new SamplingOptions { Temperature = SamplingOptions.GreedyBelow };
        Assert.False(options.IsGreedy);
        // Two equal maxima: a sampler draws both, greedy only the first.
        float[] logits = [0f, 5f, 5f, -3f];
        var drawn = Enumerable.Range(0, 64).Select(seed => new Sampler(options with { Seed = (ulong)seed }).Sample(logits, [])).ToHashSet();
        Assert.Equal([1, 2], drawn.Order());
    }

    [Fact]
    public async Task TheServerAnswersTinyTemperaturesWithTheGreedyText()
    {
        await using var s = await TestServer.StartAsync();
        string Body(string t) => $$"""{"prompt": "the cat", "max_tokens": 12, "ignore_eos": true, "temperature": {{t}}, "seed": 4}""";
        var greedy = await s.PostAsync("/v1/completions", Body("0"));
        foreach (var t in new[] { "1e-45", "1e-38", "1e-20" })
        {
            var r = await s.PostAsync("/v1/completions", Body(t));
            Assert.Equal(200, r.Status);
            Assert.Equal(greedy.Body.GetProperty("choices")[0].GetProperty("text").GetString(), r.Body.GetProperty("choices")[0].GetProperty("text").GetString());
        }
    }
}

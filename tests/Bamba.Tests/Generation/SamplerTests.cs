using Bamba.Generation;

namespace Bamba.Tests.Generation;

public class SamplerTests
{
    private static readonly float[] Logits = [2f, 1f, 0.5f, -1f, 3f];

    private static HashSet<int> Draws(SamplingOptions o, int n = 400, IReadOnlyList<int>? history = null)
    {
        var sampler = new Sampler(o with { Seed = 7 });
        return Enumerable.Range(0, n).Select(_ => sampler.Sample(Logits, history ?? [])).ToHashSet();
    }

    [Fact]
    public void GreedyPicksTheFirstMaximum()
    {
        Assert.Equal(4, new Sampler(SamplingOptions.Greedy).Sample(Logits, []));
        Assert.Equal(1, Sampler.ArgMax([0f, 5f, 5f]));
    }

    [Fact]
    public void TopKKeepsOnlyTheKBest() => Assert.Equal([0, 4], Draws(new SamplingOptions { TopK = 2 }).Order());

    [Fact]
    public void TopPKeepsTheSmallestNucleus()
    {
        // softmax: p(4) ≈ 0.61, p(0) ≈ 0.22: 0.7 needs both, 0.5 only the first.
        Assert.Equal([0, 4], Draws(new SamplingOptions { TopP = 0.7f }).Order());
        Assert.Equal([4], Draws(new SamplingOptions { TopP = 0.5f }).Order());
    }

    [Fact]
    public void TopPIsMeasuredWithinTheTopK()
    {
        // Top-2 keeps p ≈ 0.61 and 0.22; renormalised, token 4 alone holds 0.73 of that mass, so top-p 0.7 keeps only it.
        Assert.Equal([4], Draws(new SamplingOptions { TopK = 2, TopP = 0.7f }).Order());
    }

    [Fact]
    public void MinPDropsUnlikelyTokens() =>
        Assert.Equal([0, 1, 4], Draws(new SamplingOptions { MinP = 0.1f }).Order()); // p(1)/p(4) ≈ 0.135, p(2)/p(4) ≈ 0.08

    [Fact]
    public void TemperatureOneReachesEveryToken() => Assert.Equal(5, Draws(new SamplingOptions(), 3000).Count);

    [Fact]
    public void RepetitionPenaltyDemotesSeenTokens()
    {
        var o = new SamplingOptions { Temperature = 0, RepetitionPenalty = 2f };
        Assert.Equal(0, new Sampler(o).Sample(Logits, [4])); // 3 / 2 = 1.5 < 2
    }

    [Fact]
    public void PresencePenaltyAppliesToGeneratedTokensOnly()
    {
        var o = new SamplingOptions { Temperature = 0, PresencePenalty = 1.5f };
        Assert.Equal(4, new Sampler(o).Sample(Logits, [4], generatedFrom: 1)); // 4 is in the prompt only
        Assert.Equal(0, new Sampler(o).Sample(Logits, [4], generatedFrom: 0));
    }

    [Fact]
    public void SameSeedSameDraws()
    {
        var a = new Sampler(new SamplingOptions { Seed = 3 });
        var b = new Sampler(new SamplingOptions { Seed = 3 });
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => a.Sample(Logits, [])), Enumerable.Range(0, 50).Select(_ => b.Sample(Logits, [])));
    }

    [Fact]
    public void LogSoftmaxNormalises()
    {
        var lp = Sampler.LogSoftmax(Logits);
        Assert.Equal(1.0, lp.Sum(Math.Exp), 12);
        Assert.Equal(Logits[0] - Logits[1], lp[0] - lp[1], 6);
    }

    [Theory]
    [InlineData(-0.5f, 0, 1f, 0f)]
    [InlineData(1f, -1, 1f, 0f)]
    [InlineData(1f, 0, 0f, 0f)]
    [InlineData(1f, 0, 1f, 2f)]
    public void RejectsOutOfRangeOptions(float temperature, int topK, float topP, float minP) =>
        Assert.Throws<BambaException>(() => new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP }));
}

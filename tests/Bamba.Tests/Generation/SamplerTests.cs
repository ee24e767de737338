using System.Numerics.Tensors;
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

    public static TheoryData<int, string> OracleRows => new()
    {
        { 1, "plain" }, { 1, "nan" },
        { 2, "plain" }, { 2, "ties" }, { 2, "masked" }, { 2, "nan" },
        { 50, "plain" }, { 50, "ties" }, { 50, "masked" }, { 50, "one" }, { 50, "wide" }, { 50, "nan" },
        { 4096, "plain" }, { 4096, "ties" }, { 4096, "masked" }, { 4096, "one" }, { 4096, "wide" }, { 4096, "near" },
    };

    /// <summary>Every option combination, seeded, picks what the earlier LINQ sampler picked, draw for draw.</summary>
    [Theory]
    [MemberData(nameof(OracleRows))]
    public void PicksAsTheSortingSamplerDid(int vocab, string kind)
    {
        int draws = vocab > 1000 ? 30 : 300;
        var random = new Random(vocab * 31 + kind.Length);
        var rows = Rows(vocab, kind, 16, random);
        foreach (float temperature in new[] { 1f, 0.7f })
            foreach (int topK in new[] { 0, 1, 40, vocab })
                foreach (float topP in new[] { 1f, 0.9f, 0.5f })
                    foreach (float minP in new[] { 0f, 0.05f })
                        foreach (bool penalties in new[] { false, true })
                            AssertSamePicks(Options(vocab, temperature, topK, topP, minP, penalties), rows, draws, random);
    }

    /// <summary>Llama 3's vocabulary: no top-k or top-p, top-k 40, top-p 0.9, then penalties with min-p or with top-k and top-p.</summary>
    [Theory]
    [InlineData("plain")]
    [InlineData("masked")]
    public void PicksAsTheSortingSamplerDidOnA128kVocabulary(string kind)
    {
        const int vocab = 128256;
        var random = new Random(5);
        var rows = Rows(vocab, kind, 3, random);
        foreach (var o in new[]
        {
            new SamplingOptions(), new SamplingOptions { TopK = 40 }, new SamplingOptions { TopP = 0.9f },
            Options(vocab, 0.7f, 0, 1f, 0.05f, penalties: true), Options(vocab, 1f, 40, 0.5f, 0f, penalties: true),
        })
            AssertSamePicks(o, rows, 40, random);
    }

    /// <summary>
    /// A uniform just below 1 can leave the draw's remainder above 0 after every candidate (the subtractions round
    /// otherwise than the sum did): the last candidate is picked, a zero-probability id when top-k keeps some.
    /// </summary>
    [Fact]
    public void FallsThroughToTheLastCandidateAsTheSortingSamplerDid()
    {
        var random = new Random(11);
        int zeroPicks = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var row = Rows(200, (trial % 3) switch { 0 => "plain", 1 => "ties", _ => "masked" }, 1, random)[0];
            var options = new SamplingOptions { TopK = trial % 2 == 0 ? 0 : 100 + trial % 100 };
            int expected = new OldSampler(options, new NearOne()).Sample(row, []);
            Assert.Equal(expected, new Sampler(options, new NearOne()).Sample(row, []));
            if (float.IsNegativeInfinity(row[expected])) zeroPicks++;
        }
        Assert.True(zeroPicks > 0, "no draw fell through onto a −∞ id");
    }

    /// <summary>Both samplers seeded alike draw from the rows in turn, the history growing with their picks.</summary>
    private static void AssertSamePicks(SamplingOptions options, float[][] rows, int draws, Random random)
    {
        ulong seed = (ulong)random.NextInt64();
        var sampler = new Sampler(options with { Seed = seed });
        var oracle = new OldSampler(options, new Random(unchecked((int)(seed ^ (seed >> 32)))));
        int vocab = rows[0].Length;
        var history = Enumerable.Range(0, 5).Select(_ => random.Next(vocab)).ToList();
        for (int d = 0; d < draws; d++)
        {
            var row = rows[d % rows.Length];
            int expected = oracle.Sample(row, history, 5);
            Assert.True(expected == sampler.Sample(row, history, 5), $"draw {d} with {options}: expected {expected}");
            history.Add(expected);
        }
    }

    private static SamplingOptions Options(int vocab, float temperature, int topK, float topP, float minP, bool penalties) => new()
    {
        Temperature = temperature, TopK = topK, TopP = topP, MinP = minP,
        RepetitionPenalty = penalties ? 1.3f : 1f,
        PresencePenalty = penalties ? 0.4f : 0f,
        FrequencyPenalty = penalties ? 0.2f : 0f,
        LogitBias = penalties ? new Dictionary<int, float> { [0] = 3f, [vocab / 2] = -100f, [vocab - 1] = 1.5f } : null,
    };

    /// <summary>
    /// Logit rows: plain (spread as a model's), ties (a few distinct values), masked (most ids at −∞, as a grammar
    /// leaves them), one (all but one at −∞), wide (a spread whose tail underflows to probability 0), near (within 10^-6
    /// of each other) and nan (a NaN, a +∞ or every id at −∞).
    /// </summary>
    private static float[][] Rows(int vocab, string kind, int count, Random random) =>
        Enumerable.Range(0, count).Select(r => Enumerable.Range(0, vocab).Select(i => kind switch
        {
            "plain" => (float)(random.NextDouble() * 20 - 15),
            "ties" => random.Next(4) * 0.5f,
            "masked" => random.Next(5) == 0 ? (float)(random.NextDouble() * 6) : float.NegativeInfinity,
            "one" => i == r % vocab ? 1f : float.NegativeInfinity,
            "wide" => (float)(random.NextDouble() * -2000),
            "near" => (float)(random.NextDouble() * 1e-6),
            "nan" => (r % 3) switch { 0 => i == vocab / 2 ? float.NaN : 1f, 1 => i == 0 ? float.PositiveInfinity : 0f, _ => float.NegativeInfinity },
            _ => throw new ArgumentException(kind),
        }).ToArray()).ToArray();

    private sealed class NearOne : Random
    {
        public override double NextDouble() => Math.BitDecrement(1.0);
    }

    /// <summary>The sampler as it was when it sorted the whole vocabulary with LINQ for every draw: the oracle.</summary>
    private sealed class OldSampler(SamplingOptions options, Random random)
    {
        private readonly SamplingOptions _options = options;
        private readonly Random _random = random;

        public int Sample(ReadOnlySpan<float> logits, IReadOnlyList<int> history, int generatedFrom = 0)
        {
            var scores = logits.ToArray();
            ApplyPenalties(scores, history, generatedFrom);
            if (_options.IsGreedy) return Sampler.ArgMax(scores);
            TensorPrimitives.Divide(scores, _options.Temperature, scores);
            var probabilities = Softmax(scores);
            var candidates = Candidates(probabilities);
            return Draw(candidates, probabilities);
        }

        private void ApplyPenalties(float[] scores, IReadOnlyList<int> history, int generatedFrom)
        {
            foreach (var (id, bias) in _options.LogitBias ?? new Dictionary<int, float>())
                if ((uint)id < (uint)scores.Length) scores[id] += bias;
            float rep = _options.RepetitionPenalty;
            if (rep != 1f)
                foreach (int id in history.Distinct())
                    scores[id] = scores[id] > 0 ? scores[id] / rep : scores[id] * rep;
            if (_options.PresencePenalty == 0 && _options.FrequencyPenalty == 0) return;
            var counts = new Dictionary<int, int>();
            for (int i = generatedFrom; i < history.Count; i++) counts[history[i]] = counts.GetValueOrDefault(history[i]) + 1;
            foreach (var (id, count) in counts)
                scores[id] -= _options.PresencePenalty + _options.FrequencyPenalty * count;
        }

        private static double[] Softmax(float[] scores)
        {
            double max = TensorPrimitives.Max(scores), sum = 0;
            var p = new double[scores.Length];
            for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp(scores[i] - max);
            for (int i = 0; i < p.Length; i++) p[i] /= sum;
            return p;
        }

        private List<int> Candidates(double[] p)
        {
            var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToList();
            if (_options.TopK > 0 && _options.TopK < order.Count) order.RemoveRange(_options.TopK, order.Count - _options.TopK);
            if (_options.TopP < 1f)
            {
                double mass = order.Sum(i => p[i]), kept = 0;
                int n = 0;
                while (n < order.Count && (n == 0 || kept < _options.TopP * mass)) kept += p[order[n++]];
                order.RemoveRange(n, order.Count - n);
            }
            if (_options.MinP > 0f)
            {
                double floor = _options.MinP * p[order[0]];
                order.RemoveAll(i => p[i] < floor);
            }
            return order;
        }

        private int Draw(List<int> candidates, double[] p)
        {
            double total = candidates.Sum(i => p[i]);
            double u = _random.NextDouble() * total;
            foreach (int id in candidates)
            {
                u -= p[id];
                if (u <= 0) return id;
            }
            return candidates[^1];
        }
    }
}

using System.Numerics.Tensors;

namespace Bamba.Generation;

/// <summary>
/// Picks next tokens for one sequence. Deterministic for a given seed; greedy needs no randomness and picks the first
/// maximum, as torch.argmax does.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _random = options.Seed is ulong seed ? new Random(unchecked((int)(seed ^ (seed >> 32)))) : new Random();
    }

    /// <param name="logits">Next-token logits (not modified).</param>
    /// <param name="history">Tokens so far: the prompt then the generated ones.</param>
    /// <param name="generatedFrom">Index in <paramref name="history"/> where generated tokens start (for OpenAI penalties).</param>
    public int Sample(ReadOnlySpan<float> logits, IReadOnlyList<int> history, int generatedFrom = 0)
    {
        var scores = logits.ToArray();
        ApplyPenalties(scores, history, generatedFrom);
        if (_options.IsGreedy) return ArgMax(scores);
        TensorPrimitives.Divide(scores, _options.Temperature, scores);
        var probabilities = Softmax(scores);
        var candidates = Candidates(probabilities);
        return Draw(candidates, probabilities);
    }

    /// <summary>The next draw in [0, 1) of this sampler's generator: the uniform a device sampler uses in its place.</summary>
    public float NextUniform() => _random.NextSingle();

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Natural-log softmax, computed in double for accuracy (log-likelihood scoring uses it).</summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = TensorPrimitives.Max(logits), sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        double logZ = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++) result[i] = logits[i] - logZ;
        return result;
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

    /// <summary>Token ids that survive top-k, top-p and min-p, most likely first.</summary>
    private List<int> Candidates(double[] p)
    {
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToList();
        if (_options.TopK > 0 && _options.TopK < order.Count) order.RemoveRange(_options.TopK, order.Count - _options.TopK);
        if (_options.TopP < 1f)
        {
            // transformers renormalises after top-k, so the nucleus is measured within what top-k kept.
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

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
        : this(options, options.Seed is ulong seed ? new Random(unchecked((int)(seed ^ (seed >> 32)))) : new Random())
    {
    }

    /// <summary>Draws its uniforms from <paramref name="random"/> (tests force the draw's rounding fallthrough with it).</summary>
    internal Sampler(SamplingOptions options, Random random)
    {
        options.Validate();
        _options = options;
        _random = random;
    }

    /// <param name="logits">Next-token logits (not modified).</param>
    /// <param name="history">Tokens so far: the prompt then the generated ones.</param>
    /// <param name="generatedFrom">Index in <paramref name="history"/> where generated tokens start (for OpenAI penalties).</param>
    public int Sample(ReadOnlySpan<float> logits, IReadOnlyList<int> history, int generatedFrom = 0)
    {
        var scratch = Scratch.For(logits.Length);
        var scores = scratch.Scores;
        logits.CopyTo(scores);
        ApplyPenalties(scores, history, generatedFrom);
        if (_options.IsGreedy) return ArgMax(scores);
        TensorPrimitives.Divide(scores, _options.Temperature, scores);
        var p = scratch.Probabilities;
        Softmax(scores, p);
        if (double.IsNaN(p[0])) return NaNPick(p.Length); // then all are: the sum is NaN
        int count = Candidates(p, scratch, out var sorted);
        return IdAt(p, sorted, Draw(sorted, count));
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

    private void ApplyPenalties(Span<float> scores, IReadOnlyList<int> history, int generatedFrom)
    {
        if (_options.LogitBias is { } biases)
            foreach (var (id, bias) in biases)
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

    private static void Softmax(ReadOnlySpan<float> scores, Span<double> p)
    {
        double max = TensorPrimitives.Max(scores), sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp(scores[i] - max);
        TensorPrimitives.Divide(p, sum, p); // division rounds each lane alone: the same bits as p[i] /= sum
    }

    /// <summary>
    /// Every probability is NaN (a NaN or +∞ logit, or all −∞): NaN ties with NaN, so the candidates stay in id order,
    /// top-p keeps the first (no mass comparison holds), min-p drops none and the draw falls through to the last.
    /// </summary>
    private int NaNPick(int vocab)
    {
        _random.NextDouble(); // consumed as by any draw, so the later ones stay in step
        return _options.TopP < 1f ? 0 : TopKCount(vocab) - 1;
    }

    private int TopKCount(int vocab) => _options.TopK > 0 && _options.TopK < vocab ? _options.TopK : vocab;

    /// <summary>
    /// How many candidates survive top-k, top-p and min-p, and in <paramref name="sorted"/> their probabilities, most
    /// likely first (ties by ascending id, see <see cref="IdAt"/>). Zero probabilities (−∞ logits) are counted but not
    /// listed: they come last, add nothing to a sum, lie past every nucleus and below every min-p floor, so only the
    /// draw's fallthrough can reach them.
    /// </summary>
    private int Candidates(ReadOnlySpan<double> p, Scratch scratch, out ReadOnlySpan<double> sorted)
    {
        int count = TopKCount(p.Length);
        var best = scratch.Positives(p);
        if (count < best.Length) best = scratch.Sort.Largest(best, count);
        else scratch.Sort.Sort(best);
        if (_options.TopP < 1f) count = Nucleus(best);
        if (_options.MinP > 0f) count = AboveMinP(best[..Math.Min(count, best.Length)]);
        sorted = best[..Math.Min(count, best.Length)];
        return count;
    }

    /// <summary>How many of the most likely candidates make the nucleus.</summary>
    private int Nucleus(ReadOnlySpan<double> sorted)
    {
        // transformers renormalises after top-k, so the nucleus is measured within what top-k kept.
        double mass = Sum(sorted), target = _options.TopP * mass, kept = 0;
        int n = 0;
        // With every positive probability in, kept is mass, at least target as top_p < 1: the zeros are never reached.
        while (n < sorted.Length && (n == 0 || kept < target)) kept += sorted[n++];
        return n;
    }

    /// <summary>How many of the most likely candidates reach min_p × the top probability (the rest lie below, being sorted).</summary>
    private int AboveMinP(ReadOnlySpan<double> sorted)
    {
        double floor = _options.MinP * sorted[0];
        int n = 0;
        while (n < sorted.Length && sorted[n] >= floor) n++;
        return n;
    }

    /// <summary>The drawn position among <paramref name="count"/> candidates: <paramref name="sorted"/>'s, then zeros.</summary>
    private int Draw(ReadOnlySpan<double> sorted, int count)
    {
        double u = _random.NextDouble() * Sum(sorted);
        for (int j = 0; j < sorted.Length; j++)
            if ((u -= sorted[j]) <= 0) return j;
        return count - 1; // rounding left u above 0 after every candidate: the last one
    }

    /// <summary>In order, most likely first: the rounding of the sums in top-p and the draw depends on it.</summary>
    private static double Sum(ReadOnlySpan<double> sorted)
    {
        double sum = 0;
        foreach (double q in sorted) sum += q;
        return sum;
    }

    /// <summary>
    /// The id at <paramref name="position"/> in the candidate order, probability descending and ties by ascending id:
    /// with the probability found there, the n-th id that has it, n being how many before it in the order have it too.
    /// </summary>
    private static int IdAt(ReadOnlySpan<double> p, ReadOnlySpan<double> sorted, int position)
    {
        double value = position < sorted.Length ? sorted[position] : 0;
        int first = Math.Min(position, sorted.Length);
        while (first > 0 && sorted[first - 1] == value) first--;
        int rank = position - first;
        for (int id = 0; ; id++)
            if (p[id] == value && rank-- == 0) return id;
    }

    /// <summary>
    /// One call's buffers, kept per thread rather than per sampler: a server holds a sampler per sequence, and these
    /// vocabulary-sized buffers (3.5 MB at 128k ids) would add up. A call never re-enters.
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? t_current;
        private float[] _scores = [];
        private double[] _probabilities = [], _positives = [];
        private int _vocab;

        public DescendingSort Sort { get; } = new();
        public Span<float> Scores => _scores.AsSpan(0, _vocab);
        public Span<double> Probabilities => _probabilities.AsSpan(0, _vocab);

        public static Scratch For(int vocab)
        {
            var s = t_current ??= new Scratch();
            if (s._scores.Length < vocab) (s._scores, s._probabilities, s._positives) = (new float[vocab], new double[vocab], new double[vocab]);
            s._vocab = vocab;
            return s;
        }

        /// <summary>The probabilities above zero, in id order.</summary>
        public Span<double> Positives(ReadOnlySpan<double> p)
        {
            int n = 0;
            foreach (double q in p)
                if (q > 0) _positives[n++] = q;
            return _positives.AsSpan(0, n);
        }
    }
}

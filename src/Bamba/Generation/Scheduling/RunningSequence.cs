namespace Bamba.Generation.Scheduling;

/// <summary>
/// The scheduler's side of one admitted sequence: its state slot, how much of the prompt is in, the sampler and the
/// tokens so far. Only the scheduler thread touches it.
/// </summary>
internal sealed class RunningSequence
{
    private readonly List<int> _history;
    private readonly HashSet<int> _stopIds;
    private readonly Sampler _sampler;
    private readonly double?[]? _promptLogprobs;
    private readonly TokenLogprob[][]? _promptTop;
    private readonly Constraints.TokenConstraint? _constraint;
    private float[] _masked = [];
    private DateTime _lastToken;

    public RunningSequence(SequenceHandle handle, int slot, SequenceState state, int kvBlocks, IEnumerable<int> stopIds)
    {
        Handle = handle;
        Slot = slot;
        State = state;
        KvBlocks = kvBlocks;
        _history = [.. Request.Prompt];
        _stopIds = [.. stopIds];
        _sampler = new Sampler(Request.Sampling);
        _constraint = Request.Grammar?.Start(_stopIds);
        if (Request.PromptLogprobs)
        {
            _promptLogprobs = new double?[Request.Prompt.Length];
            _promptTop = new TokenLogprob[Request.Prompt.Length][];
            _promptTop[0] = [];
        }
    }

    public SequenceHandle Handle { get; }
    public SequenceRequest Request => Handle.Request;
    public int Slot { get; }
    public SequenceState State { get; }
    public int KvBlocks { get; }
    /// <summary>Prompt tokens fed so far.</summary>
    public int Prefilled { get; private set; }
    public int Generated => _history.Count - Request.Prompt.Length;
    public bool IsPrefilling => Prefilled < Request.Prompt.Length;
    /// <summary>True when this step's run needs logits at every position (prompt scoring).</summary>
    public bool NeedsAllLogits => IsPrefilling && Request.PromptLogprobs;
    public SequenceFinish? Finish { get; set; }

    /// <summary>The point of the prefix cache this sequence extends (null without a cache or once it ran out of room).</summary>
    public PrefixNode? CachePoint { get; set; }

    /// <summary>
    /// The next prompt chunk: cut at multiples of <paramref name="chunk"/> from the sequence start, so the arithmetic (and
    /// a greedy result) is the same whatever else runs in the batch, and the prefix cache's points of different requests
    /// fall on the same grid. A sequence resumed off the grid first feeds up to the next grid point.
    /// </summary>
    public int NextChunkLength(int chunk) => Math.Min(chunk - Prefilled % chunk, Request.Prompt.Length - Prefilled);

    /// <summary>The prompt's first <paramref name="position"/> tokens are in the state already (restored from the prefix cache).</summary>
    public void ResumeAt(int position) => Prefilled = position;

    /// <summary>The tokens the state holds from <paramref name="from"/> on.</summary>
    public ReadOnlySpan<int> Fed(int from) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_history)[from..State.Length];

    public SequenceInput NextInput(int chunk) => IsPrefilling
        ? new SequenceInput(Request.Prompt.AsMemory(Prefilled, NextChunkLength(chunk)))
        : new SequenceInput(new[] { _history[^1] });

    /// <summary>Whether this sequence's next token can be picked by <paramref name="device"/> (no log-probabilities asked
    /// for); a grammar's mask goes with it (<see cref="AllowedMask"/>).</summary>
    public bool SamplesOn(IDeviceSampling? device) =>
        device is not null && Request.Sampling.LogitBias is null && !Request.Logprobs && Request.TopLogprobs == 0 && device.CanSample(Request.Sampling);

    /// <summary>The ids the grammar allows next as a bit mask, or null when the sequence is unconstrained.</summary>
    public ulong[]? AllowedMask() => _constraint?.AllowedMask();

    public float NextUniform() => _sampler.NextUniform();

    /// <summary>
    /// Takes this step's outcome (the run's logits, [positions × vocab] or one row, or the token the device picked)
    /// and returns the new token, if any.
    /// </summary>
    public GeneratedToken? Advance(StepOutcome outcome, int runLength, int vocab)
    {
        if (IsPrefilling)
        {
            if (_promptLogprobs is not null) ScorePrompt(outcome.Logits!, runLength, vocab);
            Prefilled += runLength;
            if (IsPrefilling) return null;
            Handle.PromptFinished(PromptScores);
            if (Request.MaxNewTokens == 0) { Finish = SequenceFinish.Length; return null; }
        }
        if (outcome.Logits is not { } logits) return Append(outcome.DeviceToken, default);
        var row = logits.AsSpan(logits.Length - vocab, vocab);
        return Append(_sampler.Sample(Constrain(row), _history, Request.Prompt.Length), row);
    }

    /// <summary>The row with every id the grammar refuses here at −∞ (the row itself when unconstrained).</summary>
    private ReadOnlySpan<float> Constrain(ReadOnlySpan<float> row)
    {
        if (_constraint is null) return row;
        if (_masked.Length != row.Length) _masked = new float[row.Length];
        row.CopyTo(_masked);
        _constraint.Apply(_masked);
        return _masked;
    }

    public PromptScores? PromptScores => _promptLogprobs is null ? null : new PromptScores(_promptLogprobs, _promptTop!);

    /// <summary>Seconds since this sequence's previous token (or since submission for the first), then restarts the clock.</summary>
    public (double Seconds, bool First) SinceLastToken(DateTime now)
    {
        bool first = Generated == 1;
        var since = first ? Handle.Submitted : _lastToken;
        _lastToken = now;
        return ((now - since).TotalSeconds, first);
    }

    /// <summary>Records the chosen token; <paramref name="logits"/> (empty for a device pick) give its log-probabilities.</summary>
    private GeneratedToken Append(int id, ReadOnlySpan<float> logits)
    {
        _history.Add(id);
        _constraint?.Accept(id);
        // A complete constrained output ends the sequence at once: only an end id could follow.
        if (_stopIds.Contains(id) || _constraint is { IsDone: true }) Finish = SequenceFinish.Stop;
        else if (Generated >= Request.MaxNewTokens) Finish = SequenceFinish.Length;
        if (logits.IsEmpty || (!Request.Logprobs && Request.TopLogprobs == 0)) return new GeneratedToken(id, double.NaN, []);
        var logprobs = Sampler.LogSoftmax(logits);
        return new GeneratedToken(id, logprobs[id], Top(logprobs, Request.TopLogprobs));
    }

    /// <summary>Logits at chunk position j predict prompt token Prefilled + j + 1.</summary>
    private void ScorePrompt(float[] logits, int runLength, int vocab)
    {
        for (int j = 0; j < runLength; j++)
        {
            int target = Prefilled + j + 1;
            if (target >= Request.Prompt.Length) break;
            var logprobs = Sampler.LogSoftmax(logits.AsSpan(j * vocab, vocab));
            _promptLogprobs![target] = logprobs[Request.Prompt[target]];
            _promptTop![target] = Top(logprobs, Request.TopLogprobs);
        }
    }

    /// <summary>The k most likely ids, most likely first (ties to the lower id).</summary>
    internal static TokenLogprob[] Top(double[] logprobs, int k)
    {
        if (k == 0) return [];
        var best = new PriorityQueue<int, (double, int)>(); // min-heap on (logprob, -id): the root is the weakest kept
        for (int id = 0; id < logprobs.Length; id++)
        {
            best.Enqueue(id, (logprobs[id], -id));
            if (best.Count > k) best.Dequeue();
        }
        var top = new TokenLogprob[best.Count];
        for (int i = top.Length - 1; i >= 0; i--)
        {
            int id = best.Dequeue();
            top[i] = new TokenLogprob(id, logprobs[id]);
        }
        return top;
    }
}

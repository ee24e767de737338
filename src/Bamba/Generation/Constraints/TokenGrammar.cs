namespace Bamba.Generation.Constraints;

/// <summary>
/// A compiled grammar bound to a model's vocabulary: what a request with a JSON schema carries to the scheduler.
/// Shared by every sequence that uses the same schema, so the states and masks one computes serve the others.
/// </summary>
public sealed class TokenGrammar(Grammar grammar, TokenVocabulary vocabulary)
{
    public GrammarMatcher Matcher { get; } = new(grammar);
    public TokenVocabulary Vocabulary { get; } = vocabulary;

    /// <summary>The token mask of <paramref name="state"/> (cached on it).</summary>
    public ulong[] Mask(GrammarState state) => Matcher.Mask(state, s => Vocabulary.Mask(Matcher, s));

    /// <summary>A fresh per-sequence constraint; <paramref name="endIds"/> end the sequence and are allowed once the
    /// output is complete.</summary>
    public TokenConstraint Start(IEnumerable<int> endIds) => new(this, endIds);
}

/// <summary>One sequence's place in its grammar: masks logits before sampling and advances on the chosen token.</summary>
public sealed class TokenConstraint
{
    private readonly TokenGrammar _grammar;
    private readonly int[] _endIds;
    private readonly byte[]?[] _tokenBytes;
    /// <summary>The last state that could finish and its mask with the end ids (one array per state, not per step).</summary>
    private GrammarState? _finishState;
    private ulong[]? _finishMask;

    internal TokenConstraint(TokenGrammar grammar, IEnumerable<int> endIds)
    {
        _grammar = grammar;
        _endIds = [.. endIds];
        _tokenBytes = grammar.Vocabulary.TokenBytes;
        State = grammar.Matcher.Start;
    }

    public GrammarState State { get; private set; }

    /// <summary>The output is complete and nothing may follow: the sequence can end without sampling again.</summary>
    public bool IsDone => State.IsDone;

    /// <summary>
    /// The allowed ids as a bit mask (the grammar's, plus the end ids once the output may end). The same state gives
    /// the same array, never changed afterwards: a device keeps copies of the masks it has seen, keyed by the array.
    /// </summary>
    public ulong[] AllowedMask()
    {
        var mask = _grammar.Mask(State);
        if (!State.CanFinish) return mask;
        if (_finishState != State)
        {
            _finishMask = (ulong[])mask.Clone();
            foreach (int id in _endIds)
                if ((uint)id < (uint)_grammar.Vocabulary.Size) _finishMask[id >> 6] |= 1UL << (id & 63);
            _finishState = State;
        }
        return _finishMask!;
    }

    /// <summary>Sets the logit of every id the grammar does not allow here to −∞.</summary>
    public void Apply(Span<float> logits)
    {
        var mask = AllowedMask();
        for (int w = 0; w < mask.Length; w++)
        {
            ulong word = mask[w];
            if (word == ulong.MaxValue) continue;
            int start = w * 64, end = Math.Min(logits.Length, start + 64);
            if (word == 0)
            {
                // Most words of a large vocabulary refuse all 64 ids: one vectorised fill instead of 64 bit tests.
                if (start < end) logits[start..end].Fill(float.NegativeInfinity);
                continue;
            }
            for (int id = start; id < end; id++)
                if ((word >> (id & 63) & 1) == 0) logits[id] = float.NegativeInfinity;
        }
    }

    /// <summary>Moves past the chosen token (an end id changes nothing).</summary>
    public void Accept(int id)
    {
        if (_endIds.Contains(id) && State.CanFinish) return;
        var bytes = (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : null;
        State = bytes is null ? _grammar.Matcher.Dead : _grammar.Matcher.Advance(State, bytes);
    }
}

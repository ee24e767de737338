namespace Bamba.Generation.Constraints;

/// <summary>
/// Recognises a <see cref="Grammar"/> one byte at a time. A parse position is a stack of frames (alternative, element
/// index, parent); the matcher's state is the set of positions the input so far allows, each stopped at a terminal
/// (ambiguity, as in optional properties or anyOf, is several positions at once). Frames and states are interned, so a
/// state reached twice is the same object, and its byte transitions and token mask are computed once and cached on it:
/// over a batch of requests with one schema this lazily builds the automaton that xgrammar precomputes.
/// Thread-safe: every call takes the matcher's lock.
/// </summary>
public sealed class GrammarMatcher
{
    private const int MaxExpansionDepth = 2000;

    private readonly GrammarElement[][] _alternatives;
    private readonly Dictionary<GrammarRule, int[]> _ruleAlternatives = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(int Alt, int Pos, int Parent), Frame> _frames = [];
    private readonly Dictionary<string, GrammarState> _states = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public GrammarMatcher(Grammar grammar)
    {
        var alternatives = new List<GrammarElement[]>();
        var pending = new Stack<GrammarRule>([grammar.Root]);
        while (pending.TryPop(out var rule))
        {
            if (_ruleAlternatives.ContainsKey(rule)) continue;
            _ruleAlternatives[rule] = [.. rule.Alternatives.Select(a => { alternatives.Add(a); return alternatives.Count - 1; })];
            foreach (var element in rule.Alternatives.SelectMany(a => a))
                if (element is RuleRef r) pending.Push(r.Rule);
        }
        _alternatives = [.. alternatives];
        Dead = new GrammarState([], canFinish: false, id: -1);
        lock (_lock) Start = Close(_ruleAlternatives[grammar.Root].Select(a => Intern(a, 0, null)));
    }

    /// <summary>Nothing has been read.</summary>
    public GrammarState Start { get; }

    /// <summary>The state after a byte no position accepts: nothing continues from it.</summary>
    public GrammarState Dead { get; }

    public int StateCount { get { lock (_lock) return _states.Count; } }

    /// <summary>The state after reading <paramref name="b"/> in <paramref name="state"/> (cached on the state).</summary>
    public GrammarState Advance(GrammarState state, byte b)
    {
        lock (_lock) return AdvanceLocked(state, b);
    }

    public GrammarState Advance(GrammarState state, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (byte b in bytes)
            {
                if (state.IsDead) break;
                state = AdvanceLocked(state, b);
            }
            return state;
        }
    }

    /// <summary>Whether the grammar accepts exactly <paramref name="bytes"/>.</summary>
    public bool Accepts(ReadOnlySpan<byte> bytes) => Advance(Start, bytes).CanFinish;

    /// <summary>The token mask of <paramref name="state"/>, computed by <paramref name="compute"/> on first use and cached.</summary>
    internal ulong[] Mask(GrammarState state, Func<GrammarState, ulong[]> compute)
    {
        lock (_lock) return state.CachedMask ??= compute(state); // compute re-enters Advance: the lock is reentrant
    }

    private GrammarState AdvanceLocked(GrammarState state, byte b)
    {
        if (state.Next[b] is { } known) return known;
        var seeds = new List<Frame?>();
        foreach (var f in state.Frames)
            if (((Terminal)_alternatives[f.Alt][f.Pos]).Bytes.Contains(b)) seeds.Add(Intern(f.Alt, f.Pos + 1, f.Parent));
        var next = seeds.Count == 0 ? Dead : Close(seeds);
        state.Next[b] = next;
        return next;
    }

    /// <summary>The state of these positions, each expanded down to the terminals it can read next.</summary>
    private GrammarState Close(IEnumerable<Frame?> seeds)
    {
        var frames = new HashSet<Frame>(ReferenceEqualityComparer.Instance);
        var visited = new HashSet<Frame>(ReferenceEqualityComparer.Instance);
        bool canFinish = false;
        foreach (var seed in seeds) Expand(seed, frames, visited, ref canFinish, 0);
        var sorted = frames.OrderBy(f => f.Id).ToArray();
        string key = (canFinish ? "F" : "-") + string.Join(',', sorted.Select(f => f.Id));
        if (_states.TryGetValue(key, out var state)) return state;
        state = new GrammarState(sorted, canFinish, _states.Count);
        _states[key] = state;
        return state;
    }

    private void Expand(Frame? frame, HashSet<Frame> frames, HashSet<Frame> visited, ref bool canFinish, int depth)
    {
        if (frame is null) { canFinish = true; return; }
        if (!visited.Add(frame)) return;
        if (depth > MaxExpansionDepth)
            throw new BambaException("the grammar is left-recursive: a rule is reached again before any input (a schema that refers to itself without nesting)");
        var element = _alternatives[frame.Alt][frame.Pos];
        if (element is Terminal) { frames.Add(frame); return; }
        var continuation = Intern(frame.Alt, frame.Pos + 1, frame.Parent);
        foreach (int alt in _ruleAlternatives[((RuleRef)element).Rule])
            Expand(Intern(alt, 0, continuation), frames, visited, ref canFinish, depth + 1);
    }

    /// <summary>The frame at (alternative, position) over <paramref name="parent"/>; past the end it is the parent itself
    /// (a finished alternative returns to its caller), so a tail call does not grow the stack.</summary>
    private Frame? Intern(int alt, int pos, Frame? parent)
    {
        if (pos == _alternatives[alt].Length) return parent;
        var key = (alt, pos, parent?.Id ?? -1);
        if (!_frames.TryGetValue(key, out var frame))
        {
            frame = new Frame(alt, pos, parent, _frames.Count);
            _frames[key] = frame;
        }
        return frame;
    }
}

/// <summary>A parse position: the next element of an alternative, and where to return once it is done.</summary>
internal sealed record Frame(int Alt, int Pos, Frame? Parent, int Id)
{
    public bool Equals(Frame? other) => ReferenceEquals(this, other);
    public override int GetHashCode() => Id;
}

/// <summary>
/// What the input so far allows next: positions waiting on a byte, and whether the input may end here. Interned by
/// its <see cref="GrammarMatcher"/>; holds that matcher's caches (byte transitions, token mask).
/// </summary>
public sealed class GrammarState
{
    internal GrammarState(Frame[] frames, bool canFinish, int id)
    {
        Frames = frames;
        CanFinish = canFinish;
        Id = id;
    }

    internal Frame[] Frames { get; }
    internal GrammarState?[] Next { get; } = new GrammarState?[256];
    internal ulong[]? CachedMask { get; set; }
    public int Id { get; }
    /// <summary>The input read so far is a complete sentence of the grammar.</summary>
    public bool CanFinish { get; }
    /// <summary>No byte can follow.</summary>
    public bool IsDone => Frames.Length == 0;
    /// <summary>Neither a complete sentence nor the start of one.</summary>
    public bool IsDead => Frames.Length == 0 && !CanFinish;
}

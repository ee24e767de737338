namespace Bamba.Generation.Scheduling;

/// <summary>
/// Exact prefix caching for hybrid models. A Mamba layer's state exists only where a forward pass stopped, so the cache
/// keeps state segments at the points where sequences stop anyway: the end of every prefill chunk (chunks are cut on a
/// fixed grid of positions, so the points of different requests coincide), the end of every prompt and the end of every
/// reply. The points form a token trie; a new request resumes from the deepest point its prompt passes through.
/// Segments live in one byte budget, evicted least recently used: a leaf goes whole, an inner point drops its recurrent
/// state and keeps the KV rows its descendants need. A point a running sequence is extending is never evicted, and
/// a running sequence keeps its own references to the KV blocks it was restored from. Each LoRA adapter has its own
/// trie: the same tokens leave a different state under another adapter. The backend's state stores the segments
/// (<see cref="ISnapshotState"/>); these tries and their LRU are the same for all of them. Only the scheduler thread
/// calls it.
/// </summary>
internal sealed class PrefixCache(PrefixBudget budget, SchedulerMetrics metrics)
{
    private readonly Dictionary<int, PrefixNode> _roots = []; // by adapter (0 = none)
    private readonly LinkedList<PrefixNode> _recency = new(); // most recently used first; the root is not in it
    private int _pins; // points held by running sequences, counted once per sequence

    public PrefixBudget Budget => budget;
    public long Bytes { get; private set; }
    /// <summary>KV pool blocks the segments hold (within <see cref="Bytes"/>).</summary>
    public int Blocks { get; private set; }

    /// <summary>
    /// The deepest resumable point on <paramref name="prompt"/>'s path that leaves at least one prompt token to feed
    /// (the next token's logits come from the last one); the root when nothing is cached. Marks the path as used.
    /// </summary>
    internal PrefixNode Lookup(int adapter, ReadOnlySpan<int> prompt)
    {
        var best = Deepest(Root(adapter), prompt, prompt.Length - 1);
        for (var n = best; !n.IsRoot; n = n.Parent!) Touch(n);
        return best;
    }

    /// <summary>
    /// The point after <paramref name="tokens"/> below <paramref name="parent"/>: the existing one, or a new one holding
    /// what <paramref name="capture"/> returns, which holds <paramref name="size"/>; room is made for it by eviction
    /// before it is captured. Null when it does not fit the budget.
    /// </summary>
    internal PrefixNode? Extend(PrefixNode parent, ReadOnlySpan<int> tokens, (long Bytes, int Blocks) size, Func<StateSegment> capture)
    {
        if (tokens.IsEmpty) return parent;
        var node = parent.Child(tokens);
        if (node is { CanResume: true })
        {
            Touch(node);
            return node;
        }
        // The parent (and a point being refilled) must outlive the eviction that makes room.
        parent.Pins++;
        if (node is not null) node.Pins++;
        bool fits = MakeRoom(size.Bytes - (node?.Segment!.Bytes ?? 0), size.Blocks - (node?.Segment!.Blocks ?? 0));
        parent.Pins--;
        if (node is not null) node.Pins--;
        if (!fits) return null;
        var segment = capture();
        if (node is null) node = parent.AddChild(tokens.ToArray(), segment);
        else
        {
            Remove(node.Segment!); // a point whose recurrent state was dropped gets it back, with its KV captured anew
            node.Segment = segment;
        }
        Bytes += segment.Bytes;
        Blocks += segment.Blocks;
        Touch(node);
        Publish();
        return node;
    }

    /// <summary>
    /// Starts an admitted sequence from the deepest cached point of its prompt (not one that scores its prompt: that needs
    /// the logits of every prompt position), counting hit and missed prompt tokens.
    /// </summary>
    public void Attach(RunningSequence s)
    {
        if (s.State is not ISnapshotState snapshots) return;
        var point = s.Request.PromptLogprobs ? Root(s.Request.Adapter) : Lookup(s.Request.Adapter, s.Request.Prompt);
        if (!point.IsRoot)
        {
            snapshots.Restore(point.Path());
            s.ResumeAt(point.End);
        }
        metrics.PrefixTokens(point.End, s.Request.Prompt.Length - point.End);
        Hold(s, point);
    }

    /// <summary>Records the sequence's state as a point after what it has fed since its last one (at a chunk's end).</summary>
    public void Record(RunningSequence s)
    {
        if (s.CachePoint is not { } point) return;
        var snapshots = (ISnapshotState)s.State;
        Hold(s, Extend(point, s.Fed(point.End), snapshots.CaptureSize(point.End), () => snapshots.Capture(point.End)));
    }

    /// <summary>A sequence leaves: its end becomes a point when it finished normally (where a next chat turn resumes).</summary>
    public void Detach(RunningSequence s, bool record)
    {
        if (record) Record(s);
        Hold(s, null);
    }

    /// <summary>Moves the sequence's pin (the point it extends) to <paramref name="point"/>.</summary>
    private void Hold(RunningSequence s, PrefixNode? point)
    {
        if (s.CachePoint is { } old) { old.Pins--; _pins--; }
        s.CachePoint = point;
        if (point is not null) { point.Pins++; _pins++; }
        Publish();
    }

    /// <summary>How many of <paramref name="prompt"/>'s tokens a request would resume after now (no use is recorded).</summary>
    internal int CachedLength(int adapter, ReadOnlySpan<int> prompt) =>
        _roots.TryGetValue(adapter, out var root) ? Deepest(root, prompt, prompt.Length - 1).End : 0;

    private PrefixNode Root(int adapter)
    {
        if (!_roots.TryGetValue(adapter, out var root)) _roots.Add(adapter, root = PrefixNode.Root());
        return root;
    }

    private static PrefixNode Deepest(PrefixNode node, ReadOnlySpan<int> prompt, int limit)
    {
        var best = node;
        foreach (var child in node.Children)
        {
            if (child.End > limit || !prompt[node.End..child.End].SequenceEqual(child.Tokens)) continue;
            var deepest = Deepest(child, prompt, limit);
            if (!deepest.CanResume) deepest = child.CanResume ? child : best;
            if (deepest.End > best.End) best = deepest;
        }
        return best;
    }

    private void Touch(PrefixNode node)
    {
        if (node.Recency is { } entry) _recency.Remove(entry);
        node.Recency = _recency.AddFirst(node);
    }

    /// <summary>Evicts least recently used points until <paramref name="bytes"/> and <paramref name="blocks"/> more fit; false when they cannot.</summary>
    private bool MakeRoom(long bytes, int blocks)
    {
        if (!Fits(0, 0, bytes, blocks)) return false;
        bool progress = true;
        while (!Fits(Bytes, Blocks, bytes, blocks) && progress)
        {
            progress = false;
            for (var entry = _recency.Last; entry is not null && !Fits(Bytes, Blocks, bytes, blocks);)
            {
                var previous = entry.Previous;
                progress |= Evict(entry.Value);
                entry = previous;
            }
        }
        Publish();
        return Fits(Bytes, Blocks, bytes, blocks);
    }

    /// <summary>Whether <paramref name="bytes"/> more, <paramref name="blocks"/> of them pool blocks, fit beside what is held:
    /// the pool blocks within the blocks set aside, the rest within the bytes left for snapshots (so all within the budget).</summary>
    private bool Fits(long heldBytes, int heldBlocks, long bytes, int blocks) =>
        (long)heldBlocks + blocks <= budget.Blocks
        && heldBytes - heldBlocks * budget.BlockBytes + bytes - blocks * budget.BlockBytes <= budget.SnapshotBytes;

    /// <summary>A leaf goes whole; an inner point keeps the KV rows its descendants need and drops its recurrent state.</summary>
    private bool Evict(PrefixNode node)
    {
        if (node.Pins > 0) return false;
        var segment = node.Segment!;
        if (node.Children.Count == 0)
        {
            node.Parent!.Children.Remove(node);
            _recency.Remove(node.Recency!);
            node.Recency = null;
            Remove(segment);
        }
        else if (segment.HasRecurrent)
        {
            long before = segment.Bytes;
            segment.DropRecurrent();
            Bytes -= before - segment.Bytes;
        }
        else return false;
        metrics.PrefixEvicted();
        return true;
    }

    /// <summary>A segment leaves the cache: its bytes and blocks no longer count, and what it holds goes back.</summary>
    private void Remove(StateSegment segment)
    {
        Bytes -= segment.Bytes;
        Blocks -= segment.Blocks;
        segment.Release();
    }

    /// <summary>Gives back every segment (the scheduler stops; the model and its pool outlive it).</summary>
    public void Clear()
    {
        var pending = new Stack<PrefixNode>(_roots.Values.SelectMany(r => r.Children));
        while (pending.TryPop(out var node))
        {
            foreach (var child in node.Children) pending.Push(child);
            Remove(node.Segment!);
        }
        _roots.Clear();
        _recency.Clear();
        Publish();
    }

    private void Publish() => metrics.SetPrefixCache(Bytes, _recency.Count, _pins);
}

namespace Bamba.Generation.Scheduling;

/// <summary>
/// One point of the prefix cache's token trie: the tokens fed since its parent's point and the state segment captured
/// there (KV rows of those tokens, recurrent state at its end). The root is position 0, the empty state.
/// </summary>
internal sealed class PrefixNode
{
    private PrefixNode(PrefixNode? parent, int[] tokens, StateSegment? segment)
    {
        Parent = parent;
        Tokens = tokens;
        Segment = segment;
        End = (parent?.End ?? 0) + tokens.Length;
    }

    public static PrefixNode Root() => new(null, [], null);

    public PrefixNode? Parent { get; }
    public int[] Tokens { get; }
    /// <summary>Position of this point: tokens from the sequence start.</summary>
    public int End { get; }
    public StateSegment? Segment { get; set; }
    public List<PrefixNode> Children { get; } = [];
    /// <summary>Running sequences that will attach their next segments here.</summary>
    public int Pins { get; set; }
    public LinkedListNode<PrefixNode>? Recency { get; set; }

    public bool IsRoot => Parent is null;
    /// <summary>Whether a sequence can start here (the root, or a point whose recurrent state is still held).</summary>
    public bool CanResume => IsRoot || Segment!.HasRecurrent;

    public PrefixNode AddChild(int[] tokens, StateSegment segment)
    {
        var child = new PrefixNode(this, tokens, segment);
        Children.Add(child);
        return child;
    }

    public PrefixNode? Child(ReadOnlySpan<int> tokens)
    {
        foreach (var c in Children)
            if (tokens.SequenceEqual(c.Tokens)) return c;
        return null;
    }

    /// <summary>The segments from position 0 to here, in order.</summary>
    public List<StateSegment> Path()
    {
        var path = new List<StateSegment>();
        for (var n = this; !n.IsRoot; n = n.Parent!) path.Add(n.Segment!);
        path.Reverse();
        return path;
    }
}

namespace Bamba.Generation.Constraints;

/// <summary>
/// The bytes each token id writes, arranged as a trie, so that a grammar state's token mask is one walk that shares
/// every common prefix and drops a whole subtree at the first byte the grammar refuses.
/// </summary>
public sealed class TokenVocabulary
{
    private readonly Node _root = new();

    /// <param name="tokenBytes">Per id its bytes; null for ids the grammar never allows (special tokens, unused ids).</param>
    /// <param name="size">Ids in the model's logits (may exceed the tokenizer's).</param>
    public TokenVocabulary(IReadOnlyList<byte[]?> tokenBytes, int size)
    {
        Size = size;
        TokenBytes = [.. tokenBytes.Take(size)];
        for (int id = 0; id < Math.Min(size, tokenBytes.Count); id++)
        {
            if (tokenBytes[id] is not { Length: > 0 } bytes) continue;
            var node = _root;
            foreach (byte b in bytes) node = node.Child(b);
            node.Tokens.Add(id);
        }
    }

    public int Size { get; }

    /// <summary>Per id its bytes (null: never allowed).</summary>
    public byte[]?[] TokenBytes { get; }

    public int MaskWords => (Size + 63) / 64;

    /// <summary>Bit i set when token i's bytes are a valid continuation from <paramref name="state"/>.</summary>
    public ulong[] Mask(GrammarMatcher matcher, GrammarState state)
    {
        var mask = new ulong[MaskWords];
        Walk(_root, state, matcher, mask);
        return mask;
    }

    private static void Walk(Node node, GrammarState state, GrammarMatcher matcher, ulong[] mask)
    {
        foreach (var (b, child) in node.Children)
        {
            var next = matcher.Advance(state, b);
            if (next.IsDead) continue;
            foreach (int id in child.Tokens) mask[id >> 6] |= 1UL << (id & 63);
            Walk(child, next, matcher, mask);
        }
    }

    private sealed class Node
    {
        public List<(byte Byte, Node Child)> Children { get; } = [];
        public List<int> Tokens { get; } = [];

        public Node Child(byte b)
        {
            foreach (var (key, child) in Children)
                if (key == b) return child;
            var node = new Node();
            Children.Add((b, node));
            return node;
        }
    }
}

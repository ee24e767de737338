using System.Collections.Concurrent;
using System.Text.Json;

namespace Bamba.Tokenization;

/// <summary>
/// The BPE model of tokenizer.json: a word (one pre-tokenized piece) becomes its characters' ids, then adjacent
/// pairs are merged lowest merge rank first (leftmost on ties) until no listed merge applies — the same order as
/// tokenizers' <c>Word::merge_all</c>, so results are identical.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheCapacity = 200_000;
    private const int CacheMaxWordLength = 256;
    /// <summary>Below this many symbols a linear scan for the best pair beats a priority queue.</summary>
    private const int HeapThreshold = 24;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly MergeTable _merges;
    private readonly int[] _byteFallbackIds;         // <0xNN> ids, -1 where missing
    private readonly string? _unkToken;
    private readonly string? _prefix, _suffix;
    private readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cacheCount;
    /// <summary>
    /// A small direct-mapped cache in front of the vocabulary and the word cache: the big dictionaries miss the CPU
    /// caches on every lookup, while the frequent words of a text fit here. Entries are immutable objects, so
    /// threads may overwrite each other's slots safely.
    /// </summary>
    private readonly HotWord?[] _hot = new HotWord?[1 << 15];

    private sealed class HotWord(string key, int[] ids)
    {
        public readonly string Key = key;
        public readonly int[] Ids = ids;
    }

    private BpeModel(Dictionary<string, int> vocab, MergeTable merges, TokenizerSpec spec)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _unkToken = spec.OptionalString("unk_token");
        _prefix = spec.OptionalString("continuing_subword_prefix");
        _suffix = spec.OptionalString("end_of_word_suffix");
        _fuseUnk = spec.Bool("fuse_unk", false);
        _byteFallback = spec.Bool("byte_fallback", false);
        _ignoreMerges = spec.Bool("ignore_merges", false);
        _byteFallbackIds = new int[256];
        for (int b = 0; b < 256; b++) _byteFallbackIds[b] = vocab.GetValueOrDefault($"<0x{b:X2}>", -1);
        MaxId = vocab.Count == 0 ? -1 : vocab.Values.Max();
        IdToToken = new string?[MaxId + 1];
        foreach (var (token, id) in vocab) IdToToken[id] = token;
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    /// <summary>A run of unknown characters becomes one token.</summary>
    public bool FusesUnknown => _fuseUnk && _unkToken is not null;
    public string?[] IdToToken { get; }
    public int MaxId { get; }

    public static BpeModel Parse(TokenizerSpec spec)
    {
        if (spec.Double("dropout") is > 0)
            throw spec.Error("BPE dropout is not supported (it makes encoding random; inference files set it to null)");
        var vocab = ParseVocab(spec.Required("vocab"));
        string? prefix = spec.OptionalString("continuing_subword_prefix");
        var mergeList = spec.Required("merges");
        var merges = new MergeTable(mergeList.Element.ValueKind == JsonValueKind.Array ? mergeList.Element.GetArrayLength() : 0);
        int rank = 0;
        foreach (var entry in spec.Array("merges"))
        {
            var (left, right) = ParseMerge(entry);
            int a = MergePart(vocab, left, entry), b = MergePart(vocab, right, entry);
            string rightTail = prefix is not null && right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right;
            int merged = MergePart(vocab, left + rightTail, entry);
            merges.Set(a, b, rank, merged);
            rank++;
        }
        return new BpeModel(vocab, merges, spec);
    }

    private static Dictionary<string, int> ParseVocab(TokenizerSpec spec)
    {
        if (spec.Element.ValueKind != JsonValueKind.Object) throw spec.Error("BPE vocab must be an object of token → id");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in spec.Element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id is < 0 or > HfTokenizer.MaxTokenId)
                throw spec.Error($"id of '{p.Name}' must be an integer in [0, {HfTokenizer.MaxTokenId}]");
            vocab[p.Name] = id;
        }
        return vocab;
    }

    /// <summary>A merge is written "left right" (older files) or ["left", "right"].</summary>
    private static (string Left, string Right) ParseMerge(TokenizerSpec entry)
    {
        var e = entry.Element;
        if (e.ValueKind == JsonValueKind.String)
        {
            var parts = e.GetString()!.Split(' ');
            if (parts.Length == 2) return (parts[0], parts[1]);
        }
        else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2
                 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
            return (e[0].GetString()!, e[1].GetString()!);
        throw entry.Error("a merge must be \"left right\" or [\"left\", \"right\"]");
    }

    private static int MergePart(Dictionary<string, int> vocab, string token, TokenizerSpec entry) =>
        vocab.TryGetValue(token, out int id) ? id : throw entry.Error($"merge token '{token}' is not in the vocabulary");

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Tokenize(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.Length == 0) return;
        int slot = string.GetHashCode(word) & (_hot.Length - 1);
        if (_hot[slot] is { } hot && word.SequenceEqual(hot.Key)) { Append(output, hot.Ids); return; }
        var ids = Lookup(word, out string key);
        _hot[slot] = new HotWord(key, ids);
        Append(output, ids);
    }

    /// <summary>Span AddRange: List.AddRange(int[]) goes through a slow array-to-ICollection cast.</summary>
    private static void Append(List<int> output, int[] ids)
    {
        if (ids.Length == 1) output.Add(ids[0]);
        else output.AddRange(ids.AsSpan());
    }

    private int[] Lookup(ReadOnlySpan<char> word, out string key)
    {
        key = word.ToString();
        if (_ignoreMerges && _vocab.TryGetValue(key, out int whole)) return [whole];
        if (_cache.TryGetValue(key, out var cached)) return cached;
        var ids = MergeWord(key);
        if (key.Length < CacheMaxWordLength && _cacheCount < CacheCapacity && _cache.TryAdd(key, ids))
            Interlocked.Increment(ref _cacheCount);
        return ids;
    }

    /// <summary>Like <see cref="Tokenize"/> for a word not yet in the byte-level alphabet: maps its UTF-8 bytes first.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the buffers are written before they are read
    public void TokenizeBytes(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.Length > 256) { Tokenize(ByteLevelAlphabet.Encode(word), output); return; }
        Span<char> mapped = stackalloc char[word.Length * 3]; // a UTF-16 unit is at most 3 UTF-8 bytes
        int n = 0;
        if (System.Text.Ascii.IsValid(word))
            foreach (char c in word) mapped[n++] = ByteLevelAlphabet.ByteToChar[c]; // ASCII: one byte per char
        else
        {
            Span<byte> bytes = stackalloc byte[word.Length * 3];
            n = System.Text.Encoding.UTF8.GetBytes(word, bytes);
            for (int i = 0; i < n; i++) mapped[i] = ByteLevelAlphabet.ByteToChar[bytes[i]];
        }
        Tokenize(mapped[..n], output);
    }

    /// <summary>The word's initial symbols (characters, byte fallback, unk), then all merges applied.</summary>
    internal int[] MergeWord(string word)
    {
        var symbols = InitialSymbols(word);
        return symbols.Count < HeapThreshold ? MergeByScan(symbols) : MergeByHeap(symbols);
    }

    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        int unkId = -1, pendingUnk = -1; // pendingUnk: an unk id not yet emitted (fuse_unk merges runs)
        for (int i = 0; i < word.Length;)
        {
            int length = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            bool first = i == 0, last = i + length == word.Length;
            var ch = word.AsSpan(i, length);
            i += length;
            if (LookUp(ch, first, last) is int id)
            {
                if (pendingUnk >= 0) { symbols.Add(pendingUnk); pendingUnk = -1; }
                symbols.Add(id);
                continue;
            }
            if (_byteFallback && TryAddBytes(ch, symbols)) continue;
            if (_unkToken is null) continue;
            if (unkId < 0)
                unkId = _vocab.TryGetValue(_unkToken, out int u) ? u
                    : throw new BambaException($"tokenizer: unk_token '{_unkToken}' is not in the vocabulary");
            if (pendingUnk >= 0 && !_fuseUnk) symbols.Add(pendingUnk);
            pendingUnk = unkId;
        }
        if (pendingUnk >= 0) symbols.Add(pendingUnk);
        return symbols;
    }

    private int? LookUp(ReadOnlySpan<char> ch, bool first, bool last)
    {
        if ((_prefix is null || first) && (_suffix is null || !last))
            return _vocabBySpan.TryGetValue(ch, out int id) ? id : null;
        string s = (!first && _prefix is not null ? _prefix : "") + ch.ToString() + (last && _suffix is not null ? _suffix : "");
        return _vocab.TryGetValue(s, out int affixed) ? affixed : null;
    }

    /// <summary>Byte fallback: the character's UTF-8 bytes as &lt;0xNN&gt; tokens, only if all of them exist.</summary>
    private bool TryAddBytes(ReadOnlySpan<char> ch, List<int> symbols)
    {
        Span<byte> bytes = stackalloc byte[4];
        int n = System.Text.Encoding.UTF8.GetBytes(ch, bytes);
        for (int k = 0; k < n; k++) if (_byteFallbackIds[bytes[k]] < 0) return false;
        for (int k = 0; k < n; k++) symbols.Add(_byteFallbackIds[bytes[k]]);
        return true;
    }

    /// <summary>Short words: repeatedly merge the lowest-ranked adjacent pair (leftmost on ties).</summary>
    internal int[] MergeByScan(List<int> symbols)
    {
        while (symbols.Count > 1)
        {
            int best = -1;
            long bestValue = long.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (_merges.TryGet(symbols[i], symbols[i + 1], out long value) && value < bestValue)
                {
                    best = i;
                    bestValue = value; // rank in the high bits, so comparing values compares ranks
                }
            if (best < 0) break;
            symbols[best] = (int)(uint)bestValue;
            symbols.RemoveAt(best + 1);
        }
        return symbols.ToArray();
    }

    /// <summary>Long words: tokenizers' algorithm — a queue of (rank, position), stale entries skipped.</summary>
    internal int[] MergeByHeap(List<int> symbols)
    {
        int n = symbols.Count;
        var ids = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var removed = new bool[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
        var queue = new PriorityQueue<(int Pos, int NewId), long>();
        for (int i = 0; i + 1 < n; i++) Enqueue(queue, ids[i], ids[i + 1], i);
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos, right = next[pos];
            if (removed[pos] || right < 0) continue;
            // Skip entries made stale by an earlier merge of either symbol.
            if (!_merges.TryGet(ids[pos], ids[right], out long value) || (int)(uint)value != top.NewId) continue;
            ids[pos] = top.NewId;
            removed[right] = true;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) Enqueue(queue, ids[prev[pos]], ids[pos], prev[pos]);
            if (next[pos] >= 0) Enqueue(queue, ids[pos], ids[next[pos]], pos);
        }
        var result = new List<int>(n);
        for (int i = 0; i < n; i++) if (!removed[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    private void Enqueue(PriorityQueue<(int, int), long> queue, int left, int right, int pos)
    {
        if (_merges.TryGet(left, right, out long value))
            queue.Enqueue((pos, (int)(uint)value), (value >> 32 << 32) | (uint)pos);
    }
}

using Bamba.Tokenization;

namespace Bamba.Training.Tokenizer;

/// <summary>The result of BPE training: byte-level tokens by id (specials first, then the 256 bytes, then merges) and the merges in rank order.</summary>
public sealed record BpeVocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges, int SpecialCount);

/// <summary>
/// Byte-level BPE training (GPT-2 style): texts are split with GPT-2's pre-tokenizer regex, mapped to the byte-level
/// alphabet, and the most frequent adjacent pair is merged until the vocabulary is full. Ties go to the pair whose
/// tokens sort first (ordinal), so training is deterministic.
/// </summary>
public static class BpeTrainer
{
    public static BpeVocabulary Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string> specialTokens)
    {
        int minimum = specialTokens.Count + 256;
        if (vocabSize < minimum) throw new BambaException($"--vocab-size must be at least {minimum} (special tokens + 256 bytes)");
        var tokens = new List<string>(specialTokens);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (char c in ByteLevelAlphabet.ByteToChar) { ids[c.ToString()] = tokens.Count; tokens.Add(c.ToString()); }
        var words = CountWords(texts).Select(w => new Word(w.Key.Select(ch => ids[ch.ToString()]).ToList(), w.Value)).ToList();
        var merges = new List<(string, string)>();
        var pairs = new PairCounts(words);
        while (tokens.Count < vocabSize && pairs.PopBest(tokens) is var (a, b))
        {
            int merged = tokens.Count;
            tokens.Add(tokens[a] + tokens[b]);
            merges.Add((tokens[a], tokens[b]));
            pairs.Merge(words, a, b, merged);
        }
        return new BpeVocabulary(tokens, merges, specialTokens.Count);
    }

    /// <summary>Pre-tokenized words in byte-level characters, with their counts.</summary>
    private static Dictionary<string, long> CountWords(IEnumerable<string> texts)
    {
        var pattern = TextPattern.FromRegex(ByteLevelPreTokenizer.Gpt2Pattern, default);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var matches = new List<(int Start, int End)>();
        foreach (var text in texts)
        {
            matches.Clear();
            pattern.Matches(text, matches);
            foreach (var (start, end) in matches)
            {
                if (end <= start) continue;
                string word = ByteLevelAlphabet.Encode(text.AsSpan(start, end - start));
                counts[word] = counts.GetValueOrDefault(word) + 1;
            }
        }
        return counts;
    }

    internal sealed record Word(List<int> Symbols, long Count);

    /// <summary>Counts of adjacent symbol pairs, which words hold each pair, and a lazy max-heap over the counts.</summary>
    private sealed class PairCounts
    {
        private readonly Dictionary<(int, int), long> _counts = new();
        private readonly Dictionary<(int, int), HashSet<int>> _where = new();
        private readonly PriorityQueue<(int, int), (long, int, int)> _heap = new(Comparer<(long Count, int A, int B)>.Create(Compare));
        private IReadOnlyList<string>? _names;

        public PairCounts(List<Word> words)
        {
            for (int w = 0; w < words.Count; w++) Add(words[w], w, +1);
            foreach (var (pair, count) in _counts) Push(pair, count);
        }

        // The heap compares by count (higher first); names break ties once they are known (ids before).
        private static int Compare((long Count, int A, int B) x, (long Count, int A, int B) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.A != y.A ? x.A.CompareTo(y.A) : x.B.CompareTo(y.B);

        private void Push((int, int) pair, long count) => _heap.Enqueue(pair, (count, pair.Item1, pair.Item2));

        public (int, int)? PopBest(IReadOnlyList<string> names)
        {
            _names = names;
            while (_heap.TryDequeue(out var pair, out var priority))
            {
                long current = _counts.GetValueOrDefault(pair);
                if (current != priority.Item1) { if (current > 0) Push(pair, current); continue; }
                if (current <= 0) continue;
                return BreakTie(pair, current);
            }
            return null;
        }

        /// <summary>Among pairs with the same top count, the one whose token strings sort first.</summary>
        private (int, int) BreakTie((int, int) best, long count)
        {
            var same = new List<(int, int)> { best };
            while (_heap.TryPeek(out var next, out var p) && p.Item1 == count)
            {
                _heap.Dequeue();
                if (_counts.GetValueOrDefault(next) == count) same.Add(next);
                else if (_counts.GetValueOrDefault(next) > 0) Push(next, _counts[next]);
            }
            var winner = same.MinBy(q => (_names![q.Item1], _names[q.Item2]), new NameComparer());
            foreach (var q in same) if (q != winner) Push(q, count);
            return winner;
        }

        private sealed class NameComparer : IComparer<(string, string)>
        {
            public int Compare((string, string) x, (string, string) y)
            {
                int c = string.CompareOrdinal(x.Item1, y.Item1);
                return c != 0 ? c : string.CompareOrdinal(x.Item2, y.Item2);
            }
        }

        private void Add(Word word, int index, int sign)
        {
            var s = word.Symbols;
            for (int i = 0; i + 1 < s.Count; i++)
            {
                var pair = (s[i], s[i + 1]);
                _counts[pair] = _counts.GetValueOrDefault(pair) + sign * word.Count;
                if (sign > 0)
                {
                    if (!_where.TryGetValue(pair, out var set)) _where[pair] = set = [];
                    set.Add(index);
                }
            }
        }

        /// <summary>Replaces every (a, b) by <paramref name="merged"/> in the words that hold it, updating the counts.</summary>
        public void Merge(List<Word> words, int a, int b, int merged)
        {
            if (!_where.TryGetValue((a, b), out var holders)) return;
            var touched = new HashSet<(int, int)>();
            foreach (int w in holders.ToArray())
            {
                var word = words[w];
                Add(word, w, -1);
                var s = word.Symbols;
                for (int i = 0; i + 1 < s.Count; i++)
                    if (s[i] == a && s[i + 1] == b) { s[i] = merged; s.RemoveAt(i + 1); }
                Add(word, w, +1);
                for (int i = 0; i + 1 < s.Count; i++) touched.Add((s[i], s[i + 1]));
            }
            _counts.Remove((a, b));
            _where.Remove((a, b));
            foreach (var pair in touched) Push(pair, _counts[pair]);
        }
    }
}

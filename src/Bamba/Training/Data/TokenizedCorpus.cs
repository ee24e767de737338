using Bamba.Tokenization;

namespace Bamba.Training.Data;

/// <summary>
/// A corpus as token ids, split into training and held-out documents. Text documents are encoded with the model's
/// tokenizer and end with its eos token, so the model learns where a document stops. The split is a seeded shuffle of
/// whole documents: the same file and seed always give the same split.
/// </summary>
public sealed class TokenizedCorpus
{
    public required IReadOnlyList<int[]> Train { get; init; }
    public required IReadOnlyList<int[]> Eval { get; init; }

    public static TokenizedCorpus Load(string path, HfTokenizer? tokenizer, int vocabSize, double evalFraction, ulong seed)
    {
        var documents = CorpusReader.Read(path);
        int? eos = tokenizer?.EosId;
        var ids = new List<int[]>(documents.Count);
        foreach (var d in documents)
        {
            int[] tokens = d.Ids ?? Encode(path, d.Text!, tokenizer, eos);
            foreach (int id in tokens)
                if (id >= vocabSize) throw new BambaException($"{path}: token id {id} is outside the model's vocabulary (0..{vocabSize - 1})");
            if (tokens.Length > 0) ids.Add(tokens);
        }
        return Split(ids, evalFraction, seed);
    }

    private static int[] Encode(string path, string text, HfTokenizer? tokenizer, int? eos)
    {
        if (tokenizer is null)
            throw new BambaException($"{path}: holds text but the model has no tokenizer.json: pass --tokenizer DIR, or give {{\"ids\": [...]}} lines");
        var ids = tokenizer.Encode(text);
        return eos is int e ? [.. ids, e] : ids;
    }

    public static TokenizedCorpus Split(List<int[]> documents, double evalFraction, ulong seed)
    {
        var order = Enumerable.Range(0, documents.Count).ToArray();
        new SplitMix64(seed ^ 0xE7A1_5EEDUL).Shuffle(order);
        int held = evalFraction <= 0 || documents.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(evalFraction * documents.Count));
        var evalSet = order.Take(held).Order().ToArray();
        var trainSet = order.Skip(held).Order().ToArray();
        return new TokenizedCorpus { Train = trainSet.Select(i => documents[i]).ToList(), Eval = evalSet.Select(i => documents[i]).ToList() };
    }
}

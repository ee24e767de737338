using Bamba.Tokenization;

namespace Bamba.Training.Data;

/// <summary>
/// A corpus as token ids, split into training and held-out documents. Text documents are encoded with the model's
/// tokenizer and end with its eos token, so the model learns where a document stops. Chat and prompt/completion
/// documents also carry labels (−100 where no loss is taken, see <see cref="SupervisedEncoder"/>); when any document
/// has labels, <see cref="TrainLabels"/> and <see cref="EvalLabels"/> hold one array per document (a plain one's are
/// its ids). The split is a seeded shuffle of whole documents: the same file and seed always give the same split.
/// </summary>
public sealed record TokenizedCorpus
{
    public required IReadOnlyList<int[]> Train { get; init; }
    public required IReadOnlyList<int[]> Eval { get; init; }
    public IReadOnlyList<int[]>? TrainLabels { get; init; }
    public IReadOnlyList<int[]>? EvalLabels { get; init; }
    /// <summary>The bad lines left out under --skip-bad-lines, each with its file, line and reason.</summary>
    public IReadOnlyList<string> SkippedLines { get; init; } = [];

    /// <summary>
    /// Reads and encodes <paramref name="path"/>. A bad line (unreadable, unknown role, empty messages, no template)
    /// throws its message with the line number, unless <paramref name="skipBadLines"/> leaves it out and counts it.
    /// </summary>
    public static TokenizedCorpus Load(string path, HfTokenizer? tokenizer, int vocabSize, double evalFraction, ulong seed,
        TrainOn trainOn = TrainOn.Assistant, bool skipBadLines = false)
    {
        var bad = skipBadLines ? new List<string>() : null;
        var documents = CorpusReader.Read(path, bad);
        int? eos = tokenizer?.EosId;
        var supervised = tokenizer is null ? null : new SupervisedEncoder(tokenizer, Serving.TextCodecs.ChatRenderer(tokenizer), trainOn);
        var ids = new List<int[]>(documents.Count);
        var labels = new List<int[]>(documents.Count);
        foreach (var d in documents)
        {
            int[] tokens, targets;
            try { (tokens, targets) = Encode(path, d, tokenizer, supervised, eos); }
            catch (BambaException e) when (bad is not null) { bad.Add(e.Message); continue; }
            foreach (int id in tokens)
                if (id >= vocabSize) throw new BambaException($"{path}: token id {id} is outside the model's vocabulary (0..{vocabSize - 1})");
            if (tokens.Length == 0) continue;
            ids.Add(tokens);
            labels.Add(targets);
        }
        bool masked = documents.Any(d => d.Messages is not null || d.Pair is not null);
        return Split(ids, masked ? labels : null, evalFraction, seed) with { SkippedLines = bad ?? [] };
    }

    private static (int[] Ids, int[] Labels) Encode(string path, Document d, HfTokenizer? tokenizer, SupervisedEncoder? supervised, int? eos)
    {
        if (d.Ids is { } given) return (given, given);
        if (supervised is null)
            throw new BambaException($"{(d.Where.Length > 0 ? d.Where : path)}: holds text but the model has no tokenizer.json: pass --tokenizer DIR, or give {{\"ids\": [...]}} lines");
        try
        {
            if (d.Messages is { } messages) return supervised.Conversation(messages);
            if (d.Pair is { } pair) return supervised.PromptCompletion(pair.Prompt, pair.Completion);
        }
        catch (BambaException e) { throw new BambaException($"{d.Where}: {e.Message}"); }
        var text = tokenizer!.Encode(d.Text!);
        int[] ids = eos is int end ? [.. text, end] : text;
        return (ids, ids);
    }

    /// <summary>Holds out a seeded share of whole documents (with their labels when given).</summary>
    public static TokenizedCorpus Split(List<int[]> documents, List<int[]>? labels, double evalFraction, ulong seed)
    {
        var order = Enumerable.Range(0, documents.Count).ToArray();
        new SplitMix64(seed ^ 0xE7A1_5EEDUL).Shuffle(order);
        int held = evalFraction <= 0 || documents.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(evalFraction * documents.Count));
        var evalSet = order.Take(held).Order().ToArray();
        var trainSet = order.Skip(held).Order().ToArray();
        return new TokenizedCorpus
        {
            Train = trainSet.Select(i => documents[i]).ToList(),
            Eval = evalSet.Select(i => documents[i]).ToList(),
            TrainLabels = labels is null ? null : trainSet.Select(i => labels[i]).ToList(),
            EvalLabels = labels is null ? null : evalSet.Select(i => labels[i]).ToList(),
        };
    }
}

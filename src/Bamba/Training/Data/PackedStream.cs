namespace Bamba.Training.Data;

/// <summary>Where the training stream stands: the epoch, the position in that epoch's document order, and the token offset inside that document.</summary>
public readonly record struct DataCursor(int Epoch, int Index, int Offset);

/// <summary>
/// Documents packed padding-free into rows of a fixed number of tokens. Each epoch visits the documents in an order
/// shuffled from the seed and the epoch number alone, so the stream is a pure function of (seed, cursor): a resumed
/// run continues with exactly the rows an uninterrupted run would have seen. A document that does not fit in the
/// rest of a row continues at the start of the next row as a new sequence (positions from 0).
/// </summary>
public sealed class PackedStream
{
    private readonly IReadOnlyList<int[]> _documents;
    private readonly ulong _seed;
    private int[] _order;

    public PackedStream(IReadOnlyList<int[]> documents, ulong seed, DataCursor cursor)
    {
        if (documents.Count == 0) throw new BambaException("no training documents (the data file is empty, or all of it went to --eval-fraction)");
        // One-token documents give no next-token targets: training on them alone would report a loss of 0 and learn nothing.
        if (documents.All(d => d.Length < 2))
            throw new BambaException("no training document has two tokens or more, so there is nothing to predict: the data is too short to make a training row");
        _documents = documents;
        _seed = seed;
        Cursor = cursor;
        _order = Order(cursor.Epoch);
    }

    public DataCursor Cursor { get; private set; }

    private int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, _documents.Count).ToArray();
        new SplitMix64(_seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1).Shuffle(order);
        return order;
    }

    /// <summary>The next row: the pieces of documents that fill exactly <paramref name="tokens"/> tokens.</summary>
    public TrainingBatch NextRow(int tokens)
    {
        var pieces = new List<int[]>();
        int need = tokens;
        while (need > 0)
        {
            var (epoch, index, offset) = Cursor;
            var doc = _documents[_order[index]];
            int take = Math.Min(need, doc.Length - offset);
            pieces.Add(doc[offset..(offset + take)]);
            need -= take;
            offset += take;
            if (offset == doc.Length) { index++; offset = 0; }
            if (index == _documents.Count) { epoch++; index = 0; _order = Order(epoch); }
            Cursor = new DataCursor(epoch, index, offset);
        }
        return new TrainingBatch(pieces);
    }

    /// <summary>Documents in order, packed into rows of at most <paramref name="tokens"/> (evaluation: every token once).</summary>
    public static IEnumerable<TrainingBatch> Rows(IReadOnlyList<int[]> documents, int tokens, int maxTokens)
    {
        var pieces = new List<int[]>();
        int used = 0, total = 0;
        foreach (var doc in documents)
            for (int offset = 0; offset < doc.Length && total < maxTokens;)
            {
                int take = Math.Min(Math.Min(tokens - used, doc.Length - offset), maxTokens - total);
                pieces.Add(doc[offset..(offset + take)]);
                offset += take; used += take; total += take;
                if (used == tokens) { yield return new TrainingBatch(pieces); pieces = []; used = 0; }
            }
        if (pieces.Count > 0) yield return new TrainingBatch(pieces);
    }
}

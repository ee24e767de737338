using Bamba.Training.Data;

namespace Bamba.Tests.Training;

/// <summary>Corpus reading and the packed, resumable data stream.</summary>
public class DataTests
{
    [Fact]
    public void TextFilesSplitOnBlankLines()
    {
        var docs = CorpusReader.SplitOnBlankLines("a\nb\n\n\n  \nc\r\n\r\nd").ToList();
        Assert.Equal(new[] { "a\nb", "c", "d" }, docs);
    }

    [Fact]
    public void RowsAreFullAndTheStreamIsAFunctionOfSeedAndCursor()
    {
        var docs = Enumerable.Range(0, 7).Select(i => Enumerable.Range(100 * i, 3 + i * 2).ToArray()).ToList();
        var stream = new PackedStream(docs, seed: 9, new DataCursor());
        var rows = Enumerable.Range(0, 5).Select(_ => stream.NextRow(16)).ToList();
        Assert.All(rows, r => Assert.Equal(16, r.Rows));

        var cursor = new PackedStream(docs, 9, new DataCursor()).Also(s => { s.NextRow(16); s.NextRow(16); }).Cursor;
        var resumed = new PackedStream(docs, 9, cursor);
        for (int i = 2; i < 5; i++) Assert.Equal(rows[i].Tokens, resumed.NextRow(16).Tokens);
        Assert.Equal(rows.SelectMany(r => r.Tokens).Take(docs.Sum(d => d.Length)).Order(), docs.SelectMany(d => d).Order()); // each epoch visits every token once
    }
}

internal static class Functional
{
    public static T Also<T>(this T value, Action<T> action) { action(value); return value; }
}

namespace Bamba.Tokenization;

/// <summary>
/// A piece of the input on its way through the pipeline: text still to be split and tokenized, or an added
/// token already recognised (<see cref="TokenId"/> ≥ 0, passed through untouched). The text is a slice of
/// <see cref="Source"/>, so splitting a piece allocates no strings.
/// </summary>
/// <param name="AtStart">Whether the piece begins at offset 0 of the original input (Metaspace "first").</param>
internal readonly record struct Piece(string Source, int Start, int Length, int TokenId, bool AtStart)
{
    public bool IsToken => TokenId >= 0;

    public ReadOnlySpan<char> Span => Source.AsSpan(Start, Length);

    /// <summary>The text as a string (allocates unless the piece is its whole source).</summary>
    public string Text => Start == 0 && Length == Source.Length ? Source : Source.Substring(Start, Length);

    public static Piece OfText(string text, bool atStart) => new(text, 0, text.Length, -1, atStart);

    /// <summary>The sub-slice [start, end) of this piece's text.</summary>
    public Piece Slice(int start, int end) => new(Source, Start + start, end - start, -1, AtStart && start == 0);

    public Piece WithText(string text) => new(text, 0, text.Length, TokenId, AtStart);
}

/// <summary>How a split keeps the delimiters it finds (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Cuts one piece at pattern matches the way tokenizers' <c>NormalizedString::split</c> does.</summary>
internal static class PieceSplitter
{
    public static SplitBehavior ParseBehavior(TokenizerSpec spec) => spec.String("behavior") switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        var b => throw spec.Error($"unknown split behavior '{b}'"),
    };

    /// <summary>
    /// Appends the non-empty parts of <paramref name="piece"/>; <paramref name="matches"/> are the pattern's
    /// (start, end) offsets, and <paramref name="invert"/> swaps which spans count as delimiters.
    /// </summary>
    public static void Split(Piece piece, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        if (behavior == SplitBehavior.Isolated) { SplitIsolated(piece, matches, output); return; }
        var spans = Spans(piece.Length, matches, invert);
        var kept = Apply(spans, behavior);
        foreach (var (start, end) in kept)
            if (end > start) output.Add(piece.Slice(start, end));
    }

    /// <summary>Isolated keeps matches and gaps alike (the common case, so it skips the span lists).</summary>
    private static void SplitIsolated(Piece piece, List<(int Start, int End)> matches, List<Piece> output)
    {
        int previous = 0;
        foreach (var (start, end) in matches)
        {
            if (start > previous) output.Add(piece.Slice(previous, start));
            if (end > start) output.Add(piece.Slice(start, end));
            previous = end;
        }
        if (previous < piece.Length) output.Add(piece.Slice(previous, piece.Length));
    }

    /// <summary>The whole text as alternating (start, end, isMatch) spans; gaps between matches are non-matches.</summary>
    private static List<(int Start, int End, bool IsMatch)> Spans(int length, List<(int Start, int End)> matches, bool invert)
    {
        var spans = new List<(int, int, bool)>(matches.Count * 2 + 1);
        if (length == 0) { spans.Add((0, 0, invert)); return spans; }
        int previous = 0;
        foreach (var (start, end) in matches)
        {
            if (previous != start) spans.Add((previous, start, invert));
            spans.Add((start, end, !invert));
            previous = end;
        }
        if (previous != length) spans.Add((previous, length, invert));
        return spans;
    }

    private static List<(int Start, int End)> Apply(List<(int Start, int End, bool IsMatch)> spans, SplitBehavior behavior)
    {
        var kept = new List<(int Start, int End)>(spans.Count);
        bool previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var s in spans) kept.Add((s.Start, s.End));
                break;
            case SplitBehavior.Removed:
                foreach (var s in spans) if (!s.IsMatch) kept.Add((s.Start, s.End));
                break;
            case SplitBehavior.Contiguous:
                foreach (var s in spans)
                {
                    if (s.IsMatch == previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, s.End);
                    else kept.Add((s.Start, s.End));
                    previousMatch = s.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var s in spans)
                {
                    if (s.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, s.End);
                    else kept.Add((s.Start, s.End));
                    previousMatch = s.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithNext:
                // Walk right to left: a delimiter joins the span that follows it.
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    var s = spans[i];
                    if (s.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (s.Start, kept[^1].End);
                    else kept.Add((s.Start, s.End));
                    previousMatch = s.IsMatch;
                }
                kept.Reverse();
                break;
        }
        return kept;
    }
}

using System.Globalization;
using System.Text;

namespace Bamba.Tokenization;

/// <summary>
/// Finds added tokens in text: leftmost match, longest token at that position (tokenizers' Aho-Corasick
/// LeftmostLongest), then the token's single_word / lstrip / rstrip rules decide the piece boundaries.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }

    private readonly Node _root = new();
    private readonly System.Buffers.SearchValues<char> _firstChars;

    /// <param name="patterns">Each token with the text to look for (its content, or its normalized content).</param>
    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> patterns)
    {
        var first = new HashSet<char>();
        foreach (var (pattern, token) in patterns)
        {
            if (pattern.Length == 0) continue;
            first.Add(pattern[0]);
            var node = _root;
            foreach (char c in pattern)
            {
                node.Children ??= new Dictionary<char, Node>();
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= token; // two tokens with one pattern: the first listed wins
        }
        _firstChars = System.Buffers.SearchValues.Create(first.ToArray());
        IsEmpty = first.Count == 0;
    }

    public bool IsEmpty { get; }

    /// <summary>Splits one text piece into text pieces and added-token pieces (empty pieces dropped).</summary>
    public void Split(Piece piece, List<Piece> output)
    {
        string text = piece.Text;
        int pieceStart = 0; // start of the text not yet emitted
        int searchFrom = 0;
        while (searchFrom < text.Length)
        {
            int at = text.AsSpan(searchFrom).IndexOfAny(_firstChars);
            if (at < 0) break;
            at += searchFrom;
            var (token, end) = LongestAt(text, at);
            if (token is null) { searchFrom = at + 1; continue; }
            // The scan resumes after the match even when it is discarded or rstrip extends it, as tokenizers does.
            searchFrom = end;
            if (token.SingleWord && !IsSingleWord(text, at, end)) continue;
            int start = at;
            if (token.LStrip) start = Math.Max(WhiteSpaceStartBefore(text, at), pieceStart);
            if (token.RStrip) end = WhiteSpaceEndAfter(text, end);
            if (pieceStart < start) output.Add(piece.Slice(pieceStart, start));
            output.Add(piece.Slice(start, end) with { TokenId = token.Id, AtStart = false });
            pieceStart = end;
        }
        if (pieceStart < text.Length) output.Add(piece.Slice(pieceStart, text.Length));
    }

    private (AddedToken? Token, int End) LongestAt(string text, int at)
    {
        AddedToken? best = null;
        int bestEnd = at;
        var node = _root;
        for (int i = at; i < text.Length && node.Children is not null && node.Children.TryGetValue(text[i], out node); i++)
            if (node.Token is not null) { best = node.Token; bestEnd = i + 1; }
        return (best, bestEnd);
    }

    private static bool IsSingleWord(string text, int start, int end) =>
        (start == 0 || !IsWordChar(RuneBefore(text, start))) && (end == text.Length || !IsWordChar(RuneAt(text, end)));

    /// <summary>Rust regex's Unicode <c>\w</c>: letters, marks, decimal digits, connector punctuation, joiners.</summary>
    private static bool IsWordChar(Rune r) =>
        Rune.IsLetter(r) || Rune.IsDigit(r) || r.Value is 0x200C or 0x200D
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
            or UnicodeCategory.EnclosingMark or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.LetterNumber;

    private static Rune RuneAt(string text, int i)
    {
        Rune.DecodeFromUtf16(text.AsSpan(i), out var r, out _);
        return r;
    }

    private static Rune RuneBefore(string text, int i)
    {
        Rune.DecodeLastFromUtf16(text.AsSpan(0, i), out var r, out _);
        return r;
    }

    private static int WhiteSpaceStartBefore(string text, int i)
    {
        while (i > 0 && char.IsWhiteSpace(text[i - 1])) i--;
        return i;
    }

    private static int WhiteSpaceEndAfter(string text, int i)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        return i;
    }
}

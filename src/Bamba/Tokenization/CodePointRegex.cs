using System.Globalization;
using System.Text.RegularExpressions;

namespace Bamba.Tokenization;

/// <summary>Finds the successive non-overlapping matches of a pattern, as (start, end) offsets.</summary>
internal interface ITextMatcher
{
    void Matches(ReadOnlySpan<char> text, List<(int Start, int End)> output);
}

/// <summary>
/// A tokenizer.json regex run with .NET's backtracking engine but with Oniguruma's view of characters.
/// </summary>
/// <remarks>
/// The reference (HF tokenizers, Oniguruma over UTF-8) sees a code point outside the BMP as one character: 😀 is
/// one <c>[^\s\p{L}\p{N}]</c>, 𠀀 is one <c>\p{L}</c>. .NET sees two surrogates of category Cs, which changes
/// where <c>[^\r\n\p{L}\p{N}]?\p{L}+</c> splits "😀abc". Such text is matched on a copy in which every surrogate
/// pair is replaced by one BMP stand-in of the same general category (patterns test categories, not identities),
/// and the match offsets are mapped back. Text without surrogates, the usual case, is matched as it is.
/// </remarks>
internal sealed class CodePointRegex : ITextMatcher
{
    /// <summary>
    /// A pattern from a tokenizer file may backtrack catastrophically (<c>(a+)+$</c> doubles its time with each
    /// character); real split patterns take microseconds, so a match that runs this long is the pattern's fault.
    /// (.NET's non-backtracking engine cannot run the lookaheads GPT-2's pattern uses.)
    /// </summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    private readonly Regex _regex;
    private readonly char[] _standIns;

    public CodePointRegex(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
        _standIns = StandIns(pattern);
    }

    public string Pattern { get; }

    /// <summary>Appends the (start, end) offsets of successive non-overlapping matches, leftmost-first.</summary>
    public void Matches(ReadOnlySpan<char> text, List<(int Start, int End)> output)
    {
        try { MatchAll(text, output); }
        catch (RegexMatchTimeoutException)
        {
            throw new BambaException($"the tokenizer's split pattern /{Pattern}/ ran over {MatchTimeout.TotalSeconds:0} s on {text.Length} " +
                                     "characters (it backtracks catastrophically): the tokenizer.json cannot be used as it is");
        }
    }

    private void MatchAll(ReadOnlySpan<char> text, List<(int Start, int End)> output)
    {
        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            foreach (var m in _regex.EnumerateMatches(text)) output.Add((m.Index, m.Index + m.Length));
            return;
        }
        var mapped = new char[text.Length];
        var origin = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            origin[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]));
                mapped[n] = _standIns[(int)category];
                i += 2;
            }
            else mapped[n] = text[i++];
        }
        origin[n] = text.Length;
        foreach (var m in _regex.EnumerateMatches(mapped.AsSpan(0, n)))
            output.Add((origin[m.Index], origin[m.Index + m.Length]));
    }

    /// <summary>
    /// For each general category, a non-ASCII BMP character of that category that the pattern does not name
    /// (nor, case-insensitively, any ASCII letter), so it only ever matches through category classes.
    /// </summary>
    private static char[] StandIns(string pattern)
    {
        var standIns = new char[32];
        var found = new bool[32];
        for (int c = 0x100; c < 0xFFFE; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            char ch = (char)c;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory(ch);
            if (found[category] || pattern.Contains(ch)) continue;
            if (char.ToLowerInvariant(ch) < 0x80 || char.ToUpperInvariant(ch) < 0x80) continue;
            if (pattern.Contains(char.ToLowerInvariant(ch)) || pattern.Contains(char.ToUpperInvariant(ch))) continue;
            standIns[category] = ch;
            found[category] = true;
        }
        return standIns;
    }
}

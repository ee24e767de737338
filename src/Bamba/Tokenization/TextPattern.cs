using System.Text;
using System.Text.RegularExpressions;

namespace Bamba.Tokenization;

/// <summary>The pattern of a Split pre-tokenizer or a Replace normalizer/decoder: a literal string or a regex.</summary>
internal sealed class TextPattern
{
    private readonly string? _literal;
    private readonly ITextMatcher? _regex;

    private TextPattern(string? literal, ITextMatcher? regex)
    {
        _literal = literal;
        _regex = regex;
    }

    public static TextPattern Literal(string text) => new(text, null);

    public static TextPattern FromRegex(string pattern, TokenizerSpec where)
    {
        // The Llama-3 / Qwen2 split patterns have a hand-written matcher with the same results, several times faster.
        if (Llama3Splitter.For(pattern) is { } fast) return new TextPattern(null, fast);
        try { return new TextPattern(null, new CodePointRegex(pattern)); }
        catch (ArgumentException e) { throw where.Error($"regex '{pattern}' is not supported by .NET regular expressions ({e.Message})"); }
    }

    /// <summary>Offsets of the non-overlapping matches, left to right. An empty literal matches nothing.</summary>
    public void Matches(ReadOnlySpan<char> text, List<(int Start, int End)> output)
    {
        if (_regex is not null) { _regex.Matches(text, output); return; }
        if (_literal!.Length == 0) return;
        for (int from = 0; from <= text.Length;)
        {
            int at = text[from..].IndexOf(_literal, StringComparison.Ordinal);
            if (at < 0) break;
            output.Add((from + at, from + at + _literal.Length));
            from += at + _literal.Length;
        }
    }

    public string Replace(string text, string content)
    {
        if (_literal is not null) return _literal.Length == 0 ? text : text.Replace(_literal, content, StringComparison.Ordinal);
        var matches = new List<(int Start, int End)>();
        Matches(text, matches);
        if (matches.Count == 0) return text;
        var sb = new StringBuilder(text.Length);
        int previous = 0;
        foreach (var (start, end) in matches)
        {
            sb.Append(text, previous, start - previous).Append(content);
            previous = end;
        }
        return sb.Append(text, previous, text.Length - previous).ToString();
    }
}

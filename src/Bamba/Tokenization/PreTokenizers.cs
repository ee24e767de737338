using System.Text;

namespace Bamba.Tokenization;

/// <summary>
/// A tokenizer.json pre-tokenizer: splits the text pieces further (added-token pieces pass through untouched)
/// and may rewrite them (ByteLevel maps bytes to characters, Metaspace spaces to ▁).
/// </summary>
internal abstract class PreTokenizer
{
    /// <summary>Whether this step can drop input text (a split that removes its matches).</summary>
    public virtual bool MayDelete => false;

    /// <summary>Replaces the contents of <paramref name="pieces"/> with the result.</summary>
    public void Apply(List<Piece> pieces)
    {
        var output = new List<Piece>(pieces.Count * 2);
        foreach (var piece in pieces)
        {
            if (piece.IsToken) output.Add(piece);
            else SplitPiece(piece, output);
        }
        pieces.Clear();
        pieces.AddRange(output);
    }

    /// <summary>Appends the non-empty parts of one text piece.</summary>
    protected abstract void SplitPiece(Piece piece, List<Piece> output);

    public static PreTokenizer? Parse(TokenizerSpec? spec)
    {
        if (spec is not { } s) return null;
        return s.Type switch
        {
            "Sequence" => new SequencePreTokenizer(s.Array("pretokenizers").Select(p => Parse(p)!).ToArray()),
            "Split" => new SplitPreTokenizer(s.Pattern("pattern"), PieceSplitter.ParseBehavior(s), s.Bool("invert", false)),
            "ByteLevel" => new ByteLevelPreTokenizer(s.Bool("add_prefix_space", true), s.Bool("use_regex", true)),
            "Metaspace" => MetaspacePreTokenizer.Parse(s),
            "Digits" => new DigitsPreTokenizer(s.Bool("individual_digits", false)),
            "Whitespace" => new SplitPreTokenizer(Regex(@"\w+|[^\w\s]+", s), SplitBehavior.Removed, invert: true),
            "WhitespaceSplit" => new SplitPreTokenizer(Regex(@"\s+", s), SplitBehavior.Removed, invert: false),
            var t => throw s.Error($"pre_tokenizer type '{t}' is not supported"),
        };
    }

    private static TextPattern Regex(string pattern, TokenizerSpec where) => TextPattern.FromRegex(pattern, where);
}

internal sealed class SequencePreTokenizer(PreTokenizer[] steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps => steps;
    public override bool MayDelete => steps.Any(s => s.MayDelete);

    protected override void SplitPiece(Piece piece, List<Piece> output)
    {
        var pieces = new List<Piece> { piece };
        foreach (var step in steps) step.Apply(pieces);
        output.AddRange(pieces);
    }
}

internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    /// <summary>The pattern when this split keeps every match and gap as a piece (Isolated, not inverted).</summary>
    public TextPattern? IsolatingPattern => behavior == SplitBehavior.Isolated && !invert ? pattern : null;
    public override bool MayDelete => behavior == SplitBehavior.Removed;

    [ThreadStatic] private static List<(int Start, int End)>? t_matches;

    protected override void SplitPiece(Piece piece, List<Piece> output)
    {
        var matches = t_matches ??= new List<(int, int)>();
        matches.Clear();
        pattern.Matches(piece.Span, matches);
        PieceSplitter.Split(piece, matches, behavior, invert, output);
    }
}

/// <summary>
/// GPT-2 byte-level: optional leading space, optional split with the GPT-2 regex, then every UTF-8 byte
/// becomes its <see cref="ByteLevelAlphabet"/> character.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    /// <summary>Whether this step only maps bytes (no leading space, no regex split).</summary>
    public bool MapsOnly => !addPrefixSpace && !useRegex;

    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private static readonly TextPattern Gpt2 = TextPattern.FromRegex(Gpt2Pattern, default);
    [ThreadStatic] private static List<(int Start, int End)>? t_matches;
    [ThreadStatic] private static List<Piece>? t_parts;

    /// <summary>
    /// Set when this is the last pre-tokenization step: the byte mapping is then done by the BPE model on the fly
    /// (<see cref="BpeModel.TokenizeBytes"/>), which saves building one more string per word.
    /// </summary>
    public bool DeferByteMapping { get; set; }

    private string Map(string text) => DeferByteMapping ? text : ByteLevelAlphabet.Encode(text);

    protected override void SplitPiece(Piece piece, List<Piece> output)
    {
        if (addPrefixSpace && !piece.Span.StartsWith(' ')) piece = piece.WithText(" " + piece.Text);
        if (!useRegex)
        {
            output.Add(DeferByteMapping ? piece : piece.WithText(Map(piece.Text)));
            return;
        }
        var matches = t_matches ??= new List<(int, int)>();
        var parts = t_parts ??= new List<Piece>();
        matches.Clear();
        parts.Clear();
        Gpt2.Matches(piece.Span, matches);
        PieceSplitter.Split(piece, matches, SplitBehavior.Isolated, invert: false, parts);
        foreach (var part in parts) output.Add(DeferByteMapping ? part : part.WithText(Map(part.Text)));
    }
}

/// <summary>Sentencepiece-style: spaces become ▁ (plus a leading one by scheme), then split before each ▁.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, MetaspacePreTokenizer.Prepend scheme, bool split) : PreTokenizer
{
    public enum Prepend { Always, First, Never }

    public char Replacement => replacement;
    public Prepend Scheme => scheme;

    public static MetaspacePreTokenizer Parse(TokenizerSpec s) => new(ParseReplacement(s), ParseScheme(s), s.Bool("split", true));

    internal static char ParseReplacement(TokenizerSpec s)
    {
        string r = s.Char("replacement");
        return r.Length == 1 ? r[0] : throw s.Error("replacement outside the BMP is not supported");
    }

    /// <summary>Newer files write prepend_scheme; older ones add_prefix_space (false means never).</summary>
    internal static Prepend ParseScheme(TokenizerSpec s)
    {
        var scheme = s.OptionalString("prepend_scheme") switch
        {
            null or "always" => Prepend.Always,
            "first" => Prepend.First,
            "never" => Prepend.Never,
            var v => throw s.Error($"unknown prepend_scheme '{v}'"),
        };
        // tokenizers rejects add_prefix_space=false beside a prepend_scheme other than "never"; both mean never here.
        return s.Bool("add_prefix_space", true) ? scheme : Prepend.Never;
    }

    protected override void SplitPiece(Piece piece, List<Piece> output)
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = scheme == Prepend.Always || (scheme == Prepend.First && piece.AtStart);
        if (prepend && !text.StartsWith(replacement)) text = replacement + text;
        piece = piece.WithText(text);
        if (!split) { output.Add(piece); return; }
        var matches = new List<(int, int)>();
        for (int i = text.IndexOf(replacement); i >= 0; i = text.IndexOf(replacement, i + 1)) matches.Add((i, i + 1));
        PieceSplitter.Split(piece, matches, SplitBehavior.MergedWithNext, invert: false, output);
    }
}

/// <summary>Splits digits from the rest: each digit alone, or runs of digits together.</summary>
internal sealed class DigitsPreTokenizer(bool individual) : PreTokenizer
{
    protected override void SplitPiece(Piece piece, List<Piece> output)
    {
        var matches = new List<(int, int)>();
        var text = piece.Span;
        for (int i = 0; i < text.Length;)
        {
            Rune.DecodeFromUtf16(text[i..], out var rune, out int length);
            if (Rune.IsNumber(rune)) matches.Add((i, i + length));
            i += length;
        }
        PieceSplitter.Split(piece, matches, individual ? SplitBehavior.Isolated : SplitBehavior.Contiguous, invert: false, output);
    }
}

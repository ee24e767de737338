using System.Globalization;
using System.Text;

namespace Bamba.Tokenization;

/// <summary>A tokenizer.json normalizer: rewrites the text of one piece before pre-tokenization.</summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string text);

    /// <summary>Whether this step can drop input text wholesale (so that no number of characters per token holds).</summary>
    public virtual bool MayDelete => false;

    public static Normalizer? Parse(TokenizerSpec? spec)
    {
        if (spec is not { } s) return null;
        return s.Type switch
        {
            "Sequence" => new SequenceNormalizer(s.Array("normalizers").Select(n => Parse(n)!).ToArray()),
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(s.String("prepend")),
            "Replace" => new ReplaceNormalizer(s.Pattern("pattern"), s.String("content")),
            "Strip" => new StripNormalizer(s.Bool("strip_left", true), s.Bool("strip_right", true)),
            "StripAccents" => new StripAccentsNormalizer(),
            var t => throw s.Error($"normalizer type '{t}' is not supported"),
        };
    }
}

internal sealed class SequenceNormalizer(Normalizer[] steps) : Normalizer
{
    public override bool MayDelete => steps.Any(s => s.MayDelete);

    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}

internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}

/// <summary>Per-character full lowercase mapping, as Rust's <c>char::to_lowercase</c> (no final-sigma context).</summary>
internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            // The one full mapping that differs from the simple one: İ → i + COMBINING DOT ABOVE.
            if (rune.Value == 0x130) sb.Append("i\u0307");
            else sb.Append(Rune.ToLowerInvariant(rune).ToString());
        }
        return sb.ToString();
    }
}

/// <summary>Prepends a string to every non-empty piece (sentencepiece's leading ▁).</summary>
internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : Normalizer
{
    public override string Normalize(string text) => pattern.Replace(text, content);
    public override bool MayDelete => true;
}

/// <summary>Trims Unicode white space on either side.</summary>
internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override bool MayDelete => true;
    public override string Normalize(string text) =>
        left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
}

/// <summary>Removes combining marks (run after NFD/NFKD to drop accents).</summary>
internal sealed class StripAccentsNormalizer : Normalizer
{
    public override bool MayDelete => true;
    public override string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
                sb.Append(rune.ToString());
        return sb.ToString();
    }
}

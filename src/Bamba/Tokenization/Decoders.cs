using System.Globalization;
using System.Text;

namespace Bamba.Tokenization;

/// <summary>A tokenizer.json decoder: turns the token strings of some ids into strings whose concatenation is the text.</summary>
internal abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public static Decoder? Parse(TokenizerSpec? spec)
    {
        if (spec is not { } s) return null;
        return s.Type switch
        {
            "Sequence" => new SequenceDecoder(s.Array("decoders").Select(d => Parse(d)!).ToArray()),
            "ByteLevel" => new ByteLevelDecoder(),
            "Metaspace" => new MetaspaceDecoder(MetaspacePreTokenizer.ParseReplacement(s),
                MetaspacePreTokenizer.ParseScheme(s) != MetaspacePreTokenizer.Prepend.Never),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(s.Char("content"), s.Int("start", 0), s.Int("stop", 0)),
            "Replace" => new ReplaceDecoder(s.Pattern("pattern"), s.String("content")),
            var t => throw s.Error($"decoder type '{t}' is not supported"),
        };
    }
}

internal sealed class SequenceDecoder(Decoder[] steps) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var step in steps) tokens = step.DecodeChain(tokens);
        return tokens;
    }
}

/// <summary>Byte-level tokens back to bytes, then UTF-8 (invalid sequences become U+FFFD, as from_utf8_lossy).</summary>
internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (token.All(c => ByteLevelAlphabet.ByteOf(c) >= 0))
                foreach (char c in token) bytes.Add((byte)ByteLevelAlphabet.ByteOf(c));
            else bytes.AddRange(Encoding.UTF8.GetBytes(token)); // not byte-level (an added token): its own UTF-8
        }
        return [Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes))];
    }
}

/// <summary>▁ back to spaces; in the first token the prefix ▁s the pre-tokenizer added are dropped.</summary>
internal sealed class MetaspaceDecoder(char replacement, bool dropInFirstToken) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
            output.Add(i == 0 && dropInFirstToken ? tokens[i].Replace(replacement.ToString(), "") : tokens[i].Replace(replacement, ' '));
        return output;
    }
}

/// <summary>Runs of &lt;0xNN&gt; tokens become their UTF-8 text, or one U+FFFD per byte when that is not valid UTF-8.</summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (var token in tokens)
        {
            if (TryParseByte(token, out byte b)) { pending.Add(b); continue; }
            Flush(pending, output);
            output.Add(token);
        }
        Flush(pending, output);
        return output;
    }

    private static void Flush(List<byte> pending, List<string> output)
    {
        if (pending.Count == 0) return;
        try { output.Add(Strict.GetString(pending.ToArray())); }
        catch (DecoderFallbackException) { for (int i = 0; i < pending.Count; i++) output.Add("\uFFFD"); }
        pending.Clear();
    }

    /// <summary>"&lt;0xNN&gt;" exactly six characters; the two after 0x parse as hex (Rust's from_str_radix also allows "+N").</summary>
    private static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        if (token.Length != 6 || !token.StartsWith("<0x", StringComparison.Ordinal) || token[5] != '>') return false;
        var hex = token.AsSpan(3, 2);
        if (hex[0] == '+') hex = hex[1..];
        return byte.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of one character from each token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        foreach (var token in tokens)
        {
            var runes = token.EnumerateRunes().ToList();
            var c = Rune.GetRuneAt(content, 0);
            int from = 0, to = runes.Count;
            while (from < Math.Min(start, runes.Count) && runes[from] == c) from++;
            for (int i = 0; i < stop && to > from && runes[to - 1] == c; i++) to--;
            var sb = new StringBuilder();
            for (int i = from; i < to; i++) sb.Append(runes[i].ToString());
            output.Add(sb.ToString());
        }
        return output;
    }
}

internal sealed class ReplaceDecoder(TextPattern pattern, string content) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.Replace(t, content)).ToList();
}

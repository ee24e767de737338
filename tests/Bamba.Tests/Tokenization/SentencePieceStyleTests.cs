using System.Text.Json.Nodes;
using static Bamba.Tests.Tokenization.TokenizerFiles;

namespace Bamba.Tests.Tokenization;

/// <summary>
/// A Llama-2 / Mistral style file: ▁ for spaces (Prepend + Replace normalizers, or a Metaspace pre-tokenizer),
/// byte fallback, &lt;s&gt; added by a template, and the Replace/ByteFallback/Fuse/Strip decoder sequence.
/// Expected ids are worked out by hand from the merge ranks below.
/// </summary>
public class SentencePieceStyleTests
{
    // <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then these.
    private static readonly string[] Pieces =
        ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "▁he", "▁hell", "▁hello", "▁w", "or", "▁wor", "▁worl", "▁world"];
    private const int Space = 259, H = 260, E = 261, L = 262, O = 263, HELLO = 271, WORLD = 276, LL = 268, HE_ = 267;

    private static JsonObject Vocab()
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        for (int i = 0; i < Pieces.Length; i++) vocab[Pieces[i]] = 259 + i;
        return vocab;
    }

    private static JsonArray MergeList() => Merges("▁ h", "l l", "▁h e", "▁he ll", "▁hell o", "▁ w", "o r", "▁w or", "▁wor l", "▁worl d");

    private static JsonArray Specials() => [AddedToken(0, "<unk>"), AddedToken(1, "<s>"), AddedToken(2, "</s>")];

    private static JsonObject BosTemplate() => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
        ["pair"] = new JsonArray(),
        ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") } },
    };

    private static JsonObject Llama2Decoder() => Type("Sequence", ("decoders", new JsonArray(
        Type("Replace", ("pattern", StringPattern("▁")), ("content", " ")),
        Type("ByteFallback"),
        Type("Fuse"),
        Type("Strip", ("content", " "), ("start", 1), ("stop", 0)))));

    /// <summary>The legacy Llama-2 layout: Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer.</summary>
    private static Bamba.Tokenization.HfTokenizer Legacy(bool byteFallback = true) => Load(Tokenizer(
        Bpe(Vocab(), MergeList(), unk: "<unk>", byteFallback: byteFallback, fuseUnk: true),
        normalizer: Type("Sequence", ("normalizers", new JsonArray(
            Type("Prepend", ("prepend", "▁")),
            Type("Replace", ("pattern", StringPattern(" ")), ("content", "▁"))))),
        postProcessor: BosTemplate(), decoder: Llama2Decoder(), addedTokens: Specials()));

    [Fact]
    public void MergesFollowRanks()
    {
        var tok = Legacy();
        Assert.Equal([HELLO, WORLD], tok.Encode("hello world"));
        Assert.Equal([1, HELLO, WORLD], tok.Encode("hello world", addSpecialTokens: true));
        Assert.Equal("hello world", tok.Decode([HELLO, WORLD]));
        Assert.Equal("hello world", tok.Decode([1, HELLO, WORLD], skipSpecialTokens: true));
        Assert.Null(tok.BosId);
        Assert.Equal(277, tok.VocabSize);
    }

    [Fact]
    public void ByteFallbackEncodesAndDecodesUnknownCharacters()
    {
        var tok = Legacy();
        // é is not in the vocabulary: its UTF-8 bytes C3 A9 become <0xC3> <0xA9>.
        Assert.Equal([HE_, 3 + 0xC3, 3 + 0xA9], tok.Encode("hé"));
        Assert.Equal("hé", tok.Decode([HE_, 3 + 0xC3, 3 + 0xA9]));
        // A lone continuation byte is not valid UTF-8: one U+FFFD per byte token.
        Assert.Equal("h\uFFFD\uFFFD", tok.Decode([HE_, 3 + 0xC3, 3 + 0xC3]));
    }

    [Fact]
    public void WithoutByteFallbackUnknownRunsFuseIntoOneUnk()
    {
        var tok = Legacy(byteFallback: false);
        Assert.Equal([HE_, 0], tok.Encode("hé€"));
        Assert.Equal("h<unk>", tok.Decode([HE_, 0]));
    }

    [Fact]
    public void SpecialTokensInTextAreSplitBeforeNormalization()
    {
        var tok = Legacy();
        // Each text piece gets its own ▁ from Prepend, as in tokenizers.
        Assert.Equal([1, HELLO, 2], tok.Encode("<s>hello</s>"));
        Assert.Equal("<s> hello</s>", tok.Decode([1, HELLO, 2]));
        Assert.Equal("hello", tok.Decode([1, HELLO, 2], skipSpecialTokens: true));
    }

    /// <summary>The newer layout: no normalizer, Metaspace with prepend_scheme "first" and no split.</summary>
    private static Bamba.Tokenization.HfTokenizer Metaspace(string scheme, bool split) => Load(Tokenizer(
        Bpe(Vocab(), MergeList(), unk: "<unk>", byteFallback: true, fuseUnk: true),
        preTokenizer: Type("Metaspace", ("replacement", "▁"), ("prepend_scheme", scheme), ("split", split)),
        postProcessor: BosTemplate(), decoder: Llama2Decoder(), addedTokens: Specials()));

    [Fact]
    public void MetaspacePrependFirstOnlyAtTheStartOfTheInput()
    {
        var tok = Metaspace("first", split: false);
        Assert.Equal([HELLO, WORLD], tok.Encode("hello world"));
        // After <s> the piece does not start the input, so no ▁ is prepended and "h e" has no merge.
        Assert.Equal([1, H, E, LL, O], tok.Encode("<s>hello"));
        Assert.Equal([HELLO, Space, WORLD], tok.Encode("hello  world"));
    }

    [Fact]
    public void MetaspaceSplitAndAlwaysPrepend()
    {
        var tok = Metaspace("always", split: true);
        Assert.Equal([1, HELLO], tok.Encode("<s>hello"));
        Assert.Equal([HELLO, Space, WORLD], tok.Encode("hello  world"));
    }

    [Fact]
    public void MetaspaceDecoderDropsTheLeadingReplacementOfTheFirstToken()
    {
        var tok = Load(Tokenizer(Bpe(Vocab(), MergeList(), unk: "<unk>"),
            preTokenizer: Type("Metaspace", ("replacement", "▁"), ("prepend_scheme", "always"), ("split", true)),
            decoder: Type("Metaspace", ("replacement", "▁"), ("prepend_scheme", "always"), ("split", true)),
            addedTokens: Specials()));
        Assert.Equal("hello world", tok.Decode([HELLO, WORLD]));
        Assert.Equal(" hello", tok.Decode([Space, HELLO]));
    }

    [Fact]
    public void IncrementalDecoderKeepsSpacesBetweenPieces()
    {
        var tok = Legacy();
        var stream = tok.CreateIncrementalDecoder();
        Assert.Equal("hello", stream.Add(HELLO));
        Assert.Equal(" world", stream.Add(WORLD));
        Assert.Equal(" h", stream.Add(HE_));
        Assert.Equal("", stream.Add(3 + 0xC3)); // first byte of é: held back
        Assert.Equal("é", stream.Add(3 + 0xA9));
        Assert.Equal("", stream.Flush());
    }

    [Fact]
    public void ConfigAddBosTokenOverridesTheTemplate()
    {
        var config = new JsonObject { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["add_bos_token"] = true, ["add_eos_token"] = true };
        var tok = Load(Tokenizer(Bpe(Vocab(), MergeList(), unk: "<unk>", byteFallback: true),
            normalizer: Type("Prepend", ("prepend", "▁")), postProcessor: BosTemplate(), decoder: Llama2Decoder(),
            addedTokens: Specials()), config);
        Assert.Equal([1, HELLO, 2], tok.Encode("hello", addSpecialTokens: true));
        Assert.Equal([HELLO], tok.Encode("hello"));
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal([2], tok.EosIds);
    }
}

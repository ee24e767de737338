using System.Text.Json.Nodes;
using static Bamba.Tests.Tokenization.TokenizerFiles;

namespace Bamba.Tests.Tokenization;

/// <summary>
/// GPT-2 and Qwen style byte-level files, added tokens with lstrip/rstrip/single_word, and the normalizers.
/// Byte ids equal byte values (0..255); the merged tokens' ids follow. Expected ids are worked out by hand.
/// </summary>
public class ByteLevelStyleTests
{
    private static readonly string[] Extra = ["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "12", "lo"];
    private const int HELLO = 259, GW = 260, OR = 261, LD = 263, WORLD = 264, TWELVE = 265, LO = 266;
    private const int EndOfText = 300, Mask = 301, R = 302, Cat = 303;

    private static JsonArray MergeList() => Merges("h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "1 2");

    private static JsonArray Added() =>
    [
        AddedToken(EndOfText, "<|endoftext|>"),
        AddedToken(Mask, "<mask>", lstrip: true),
        AddedToken(R, "[R]", rstrip: true),
        AddedToken(Cat, "cat", special: false, singleWord: true),
    ];

    private static Bamba.Tokenization.HfTokenizer Gpt2(bool addPrefixSpace = false, bool ignoreMerges = false, JsonNode? normalizer = null) =>
        Load(Tokenizer(Bpe(ByteLevelVocab(Extra), MergeList(), ignoreMerges: ignoreMerges),
            normalizer: normalizer,
            preTokenizer: Type("ByteLevel", ("add_prefix_space", addPrefixSpace), ("trim_offsets", true), ("use_regex", true)),
            postProcessor: Type("ByteLevel", ("add_prefix_space", true), ("trim_offsets", false), ("use_regex", true)),
            decoder: Type("ByteLevel", ("add_prefix_space", true), ("trim_offsets", true), ("use_regex", true)),
            addedTokens: Added()));

    [Fact]
    public void Gpt2RegexSplitsThenMerges()
    {
        var tok = Gpt2();
        Assert.Equal([HELLO, WORLD], tok.Encode("hello world"));
        Assert.Equal([HELLO, WORLD], tok.Encode("hello world", addSpecialTokens: true)); // ByteLevel adds nothing
        Assert.Equal("hello world", tok.Decode([HELLO, WORLD]));
        // " 12" is one GPT-2 piece (" ?\p{N}+"), "12" then merges.
        Assert.Equal([HELLO, 32, TWELVE], tok.Encode("hello 12"));
    }

    [Fact]
    public void AddPrefixSpaceAddsASpaceToEachPiece()
    {
        Assert.Equal([32, HELLO], Gpt2(addPrefixSpace: true).Encode("hello"));
        Assert.Equal([HELLO], Gpt2().Encode("hello"));
    }

    [Fact]
    public void NonAsciiTextIsEncodedAsBytes()
    {
        var tok = Gpt2();
        Assert.Equal([0xC3, 0xA9], tok.Encode("é"));
        Assert.Equal("é", tok.Decode([0xC3, 0xA9]));
        Assert.Equal("\uFFFD", tok.Decode([0xC3])); // incomplete UTF-8, as from_utf8_lossy
        Assert.Equal([0xF0, 0x9F, 0x98, 0x80], tok.Encode("😀"));

        var stream = tok.CreateIncrementalDecoder();
        Assert.Equal(["h", "", "", "", "😀", "!"], new[] { 'h', 0xF0, 0x9F, 0x98, 0x80, '!' }.Select(id => stream.Add(id)).ToArray());
    }

    [Fact]
    public void IgnoreMergesTakesWholeWordsFromTheVocabulary()
    {
        Assert.Equal([LO], Gpt2(ignoreMerges: true).Encode("lo"));
        Assert.Equal(['l', 'o'], Gpt2(ignoreMerges: false).Encode("lo"));
    }

    [Fact]
    public void SpecialTokensSplitTheTextAndCanBeSkipped()
    {
        var tok = Gpt2();
        Assert.Equal([HELLO, EndOfText], tok.Encode("hello<|endoftext|>"));
        Assert.Equal("hello<|endoftext|>", tok.Decode([HELLO, EndOfText]));
        Assert.Equal("hello", tok.Decode([HELLO, EndOfText], skipSpecialTokens: true));
        Assert.Equal(EndOfText, tok.TokenToId("<|endoftext|>"));
        Assert.True(tok.IsSpecial(EndOfText));
        Assert.False(tok.IsSpecial(Cat));
    }

    [Fact]
    public void LStripTakesTheSpacesBeforeTheToken()
    {
        // " <mask>" is one piece: the space goes into the added token instead of the text before it.
        Assert.Equal([HELLO, Mask], Gpt2().Encode("hello <mask>"));
        Assert.Equal([HELLO, Mask], Gpt2().Encode("hello   <mask>"));
    }

    [Fact]
    public void RStripTakesTheSpacesAfterTheToken()
    {
        // "[R]  " is the token; "world" follows without its space, so it is w + or + ld.
        Assert.Equal([R, 'w', OR, LD], Gpt2().Encode("[R]  world"));
        Assert.Equal([R, WORLD], Gpt2().Encode("[R]") is [R] ? [R, WORLD] : [0]);
        Assert.Equal("[R]", Gpt2().Decode([R]));
    }

    [Fact]
    public void SingleWordTokensOnlyMatchWholeWords()
    {
        // "cat" inside "concat" is not a whole word, so it stays text.
        Assert.Equal([Cat, 32, 'c', 'o', 'n', 'c', 'a', 't', 32, Cat, '.'], Gpt2().Encode("cat concat cat."));
    }

    /// <summary>A Qwen2-like file: NFC, then Split with Qwen2's regex (one digit per piece), then ByteLevel without regex.</summary>
    private static Bamba.Tokenization.HfTokenizer Qwen() =>
        Load(Tokenizer(Bpe(ByteLevelVocab(Extra), MergeList(), ignoreMerges: false),
            normalizer: Type("NFC"),
            preTokenizer: Type("Sequence", ("pretokenizers", new JsonArray(
                Type("Split", ("pattern", RegexPattern(Bamba.Tokenization.Llama3Splitter.Qwen2Pattern)), ("behavior", "Isolated"), ("invert", false)),
                Type("ByteLevel", ("add_prefix_space", false), ("trim_offsets", false), ("use_regex", false))))),
            postProcessor: Type("ByteLevel", ("add_prefix_space", false), ("trim_offsets", false), ("use_regex", false)),
            decoder: Type("ByteLevel", ("add_prefix_space", false), ("trim_offsets", false), ("use_regex", false)),
            addedTokens: [AddedToken(EndOfText, "<|endoftext|>")]));

    [Fact]
    public void QwenStyleSplitAndNfc()
    {
        var tok = Qwen();
        // e + COMBINING ACUTE becomes é (C3 A9) under NFC; without it, it would be 65 CC 81.
        Assert.Equal([0xC3, 0xA9], tok.Encode("e\u0301"));
        // Qwen2's pattern takes digits one at a time, so the "1 2" merge never applies.
        Assert.Equal(['1', '2', '3'], tok.Encode("123"));
        Assert.Equal([HELLO, WORLD, EndOfText], tok.Encode("hello world<|endoftext|>"));
        Assert.Equal("héllo world", tok.Decode(tok.Encode("he\u0301llo world")));
    }

    [Fact]
    public void DigitsPreTokenizerSplitsEachDigit()
    {
        JsonObject Make(bool individual) => Tokenizer(Bpe(ByteLevelVocab(Extra), MergeList()),
            preTokenizer: Type("Sequence", ("pretokenizers", new JsonArray(
                Type("Digits", ("individual_digits", individual)),
                Type("ByteLevel", ("add_prefix_space", false), ("use_regex", true))))),
            decoder: Type("ByteLevel"));
        Assert.Equal(['a', 'b', '1', '2'], Load(Make(individual: true)).Encode("ab12"));
        Assert.Equal(['a', 'b', TWELVE], Load(Make(individual: false)).Encode("ab12"));
    }

    [Fact]
    public void NormalizersRewriteTheText()
    {
        var nfkcLower = Gpt2(normalizer: Type("Sequence", ("normalizers", new JsonArray(Type("NFKC"), Type("Lowercase")))));
        Assert.Equal(['a', 'b'], nfkcLower.Encode("ＡＢ"));
        var replace = Gpt2(normalizer: Type("Replace", ("pattern", RegexPattern(@"\s+")), ("content", " ")));
        Assert.Equal(['a', 32, 'b'], replace.Encode("a \t\n b"));
        var strip = Gpt2(normalizer: Type("Sequence", ("normalizers", new JsonArray(Type("NFD"), Type("StripAccents"), Type("Strip", ("strip_left", true), ("strip_right", true))))));
        Assert.Equal([HELLO], strip.Encode("  hélló \n"));
    }

    [Fact]
    public void SplitBehaviorsAndInvert()
    {
        JsonObject Make(string behavior, bool invert) => Tokenizer(Bpe(ByteLevelVocab(Extra), MergeList()),
            preTokenizer: Type("Sequence", ("pretokenizers", new JsonArray(
                Type("Split", ("pattern", StringPattern("-")), ("behavior", behavior), ("invert", invert)),
                Type("ByteLevel", ("add_prefix_space", false), ("use_regex", false))))),
            decoder: Type("ByteLevel"));
        // "he-ll": Removed drops '-', so "he" and "ll" merge on their own; MergedWithPrevious keeps "he-" together.
        Assert.Equal([256, 257], Load(Make("Removed", false)).Encode("he-ll"));
        Assert.Equal([256, '-', 257], Load(Make("MergedWithPrevious", false)).Encode("he-ll"));
        Assert.Equal([256, '-', 257], Load(Make("MergedWithNext", false)).Encode("he-ll"));
        // Inverted and Removed: the non-matches are the delimiters, so only the '-' pieces stay.
        Assert.Equal(['-', '-'], Load(Make("Removed", true)).Encode("he--ll"));
    }
}

using Bamba.Tokenization;

namespace Bamba.Tests.Tokenization;

/// <summary>
/// The regex engine wrapper sees code points as Oniguruma does, and the hand-written Llama-3/Qwen2 splitter
/// gives exactly the regex's matches.
/// </summary>
public class SplitPatternTests
{
    private static List<(int, int)> Run(ITextMatcher m, string text)
    {
        var list = new List<(int, int)>();
        m.Matches(text, list);
        return list;
    }

    private static string[] Pieces(ITextMatcher m, string text) => Run(m, text).Select(r => text[r.Item1..r.Item2]).ToArray();

    [Fact]
    public void SupplementaryCharactersCountAsOneCodePoint()
    {
        var regex = new CodePointRegex(Llama3Splitter.Llama3Pattern);
        // 😀 is one non-letter code point, so it is the optional prefix of the letters after it.
        Assert.Equal(["😀abc", " x"], Pieces(regex, "😀abc x"));
        // 𝐀𝐁 (mathematical bold capitals, outside the BMP) are letters.
        Assert.Equal(["𝐀𝐁c", "1"], Pieces(regex, "𝐀𝐁c1"));
        Assert.Equal(["'s", " ", "123", "4"], Pieces(regex, "'s 1234"));
    }

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("I'm DON'T we'LL", new[] { "I", "'m", " DON", "'T", " we", "'LL" })]
    [InlineData("1234567", new[] { "123", "456", "7" })]
    [InlineData("a  b\n\n  c", new[] { "a", " ", " b", "\n\n", " ", " c" })]
    [InlineData("x   ", new[] { "x", "   " })]
    [InlineData("f(x):\n    return", new[] { "f", "(x", "):\n", "   ", " return" })]
    [InlineData(" ...\r\n\r\nnext", new[] { " ...\r\n\r\n", "next" })]
    public void Llama3SplitterExamples(string text, string[] expected)
    {
        Assert.Equal(expected, Pieces(Llama3Splitter.For(Llama3Splitter.Llama3Pattern)!, text));
        Assert.Equal(expected, Pieces(new CodePointRegex(Llama3Splitter.Llama3Pattern), text));
    }

    [Fact]
    public void SplittersEqualTheRegexOnFixtureTexts()
    {
        foreach (var pattern in new[] { Llama3Splitter.Llama3Pattern, Llama3Splitter.Qwen2Pattern })
        {
            var fast = Llama3Splitter.For(pattern)!;
            var regex = new CodePointRegex(pattern);
            foreach (var c in TokenizerFixtures.LoadLlama3Cases())
                Assert.True(Run(regex, c.Text).SequenceEqual(Run(fast, c.Text)), $"case {c.Index} splits differently");
        }
    }

    [Fact]
    public void SplittersEqualTheRegexOnRandomStrings()
    {
        // Letters, digits, apostrophe contractions, every kind of white space, punctuation, marks, non-BMP
        // letters/digits/symbols and a lone surrogate, in random mixtures.
        string[] alphabet =
        [
            "a", "Z", "é", "ß", "中", "ſ", "K", "s", "t", "re", "ll", "'", "'s", "'LL", "'ve", "0", "7", "٣", "½", "Ⅻ",
            " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2009", "\u3000", "\u2028", "\u0085", "\v", "\f", "\u001c",
            ".", ",", "!", "-", "_", "(", "\u0301", "\u200b", "😀", "𝐀", "𝟙", "\ud800", "<|x|>",
        ];
        var random = new Random(20261124);
        foreach (var pattern in new[] { Llama3Splitter.Llama3Pattern, Llama3Splitter.Qwen2Pattern })
        {
            var fast = Llama3Splitter.For(pattern)!;
            var regex = new CodePointRegex(pattern);
            for (int n = 0; n < 20000; n++)
            {
                var text = string.Concat(Enumerable.Range(0, random.Next(1, 16)).Select(_ => alphabet[random.Next(alphabet.Length)]));
                var expected = Run(regex, text);
                var actual = Run(fast, text);
                Assert.True(expected.SequenceEqual(actual),
                    $"{System.Text.Json.JsonSerializer.Serialize(text)}: regex [{string.Join(" ", expected)}] splitter [{string.Join(" ", actual)}]");
            }
        }
    }
}

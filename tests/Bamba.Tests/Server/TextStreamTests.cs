using Bamba.Serving;

namespace Bamba.Tests.Server;

/// <summary>Stop strings over streamed text: held back while they may still match, cut before the match, across tokens.</summary>
public class TextStreamTests
{
    private static readonly CharCodec Codec = new();

    private static (string Streamed, List<string> Pieces, bool Stopped) Run(string text, params string[] stops)
    {
        var stream = new TextStream(Codec, stops);
        var pieces = new List<string>();
        foreach (int id in Codec.Encode(text, addSpecialTokens: false))
        {
            pieces.Add(stream.Push(id));
            if (stream.Stopped) break;
        }
        if (!stream.Stopped) pieces.Add(stream.Flush());
        return (string.Concat(pieces), pieces, stream.Stopped);
    }

    [Fact]
    public void WithoutStopsEveryTokenShowsAtOnce()
    {
        var (text, pieces, stopped) = Run("hello");
        Assert.Equal("hello", text);
        Assert.Equal(["h", "e", "l", "l", "o", ""], pieces);
        Assert.False(stopped);
    }

    [Fact]
    public void TextEndsBeforeAStopStringSpreadOverTokens()
    {
        var (text, pieces, stopped) = Run("one END two", "END");
        Assert.Equal("one ", text);
        Assert.True(stopped);
        Assert.DoesNotContain(pieces, p => p.Contains('E')); // "E" and "EN" were held back, never shown
    }

    [Fact]
    public void APrefixThatDoesNotCompleteIsReleased()
    {
        var (text, _, stopped) = Run("an ENd", "END");
        Assert.Equal("an ENd", text);
        Assert.False(stopped);
    }

    [Fact]
    public void TheEarliestOfSeveralStopsWins()
    {
        Assert.Equal("x", Run("xyz..ab", "ab", "yz").Streamed);
        Assert.Equal("a", Run("abc", "abc", "b").Streamed); // "b" is complete before "abc" could be
    }

    [Fact]
    public void HeldBackTextComesOutAtTheEnd()
    {
        var stream = new TextStream(Codec, ["END"]);
        Assert.Equal("a", stream.Push(Codec.Encode("a", false)[0]));
        Assert.Equal("", stream.Push(Codec.Encode("E", false)[0]));
        Assert.Equal("E", stream.Flush());
        Assert.Equal("aE", stream.Text);
    }
}

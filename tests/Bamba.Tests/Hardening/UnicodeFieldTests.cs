using System.Text;
using Bamba.Tests.Server;
using Bamba.Text;

namespace Bamba.Tests.Hardening;

/// <summary>
/// Text that is not valid Unicode (a lone surrogate escape, an invalid UTF-8 byte) in any field of any request is a
/// 400 naming the field, never a 500 with .NET's message.
/// </summary>
public class UnicodeFieldTests
{
    private const string Bad = "BAD"; // replaced by each kind of invalid text below

    /// <summary>Each request places <see cref="Bad"/> in one text field; the path is what the 400 must name.</summary>
    public static TheoryData<string, string, string> Fields => new()
    {
        { "/v1/completions", """{"prompt": "BAD", "max_tokens": 2}""", "prompt" },
        { "/v1/completions", """{"prompt": ["ok", "BAD"], "max_tokens": 2}""", "prompt[1]" },
        { "/v1/completions", """{"prompt": "ok", "stop": "BAD", "max_tokens": 2}""", "stop" },
        { "/v1/completions", """{"prompt": "ok", "stop": ["x", "BAD"], "max_tokens": 2}""", "stop[1]" },
        { "/v1/completions", """{"prompt": "ok", "model": "BAD"}""", "model" },
        { "/v1/completions", """{"prompt": "ok", "user": "BAD"}""", "user" },
        { "/v1/completions", """{"prompt": "ok", "suffix": "BAD"}""", "suffix" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "BAD"}]}""", "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": "BAD"}]}]}""", "messages[1].content[0].text" },
        { "/v1/chat/completions", """{"messages": [{"role": "BAD", "content": "x"}]}""", "messages[0].role" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "name": "BAD", "content": "x"}]}""", "messages[0].name" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "stop": "BAD"}""", "stop" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "stream": true, "stop": ["BAD"]}""", "stop[0]" },
        { "/v1/completions", """{"prompt": "ok", "BAD": 1}""", "(a field name)" },
    };

    private static readonly byte[][] Invalid =
    [
        Encoding.UTF8.GetBytes("\\ud800"),          // a lone high surrogate, escaped
        Encoding.UTF8.GetBytes("a\\udfffb"),        // a lone low surrogate inside text
        Encoding.UTF8.GetBytes("\\ud800\\u0041"),   // a high surrogate followed by a non-surrogate
        [0x61, 0xFF, 0x62],                          // a byte UTF-8 never uses
        [0xC3],                                      // a sequence cut short
        [0xED, 0xA0, 0x80],                          // a surrogate encoded in UTF-8 (CESU)
    ];

    private static byte[] Body(string template, byte[] bad)
    {
        var parts = template.Split(Bad);
        return [.. Encoding.UTF8.GetBytes(parts[0]), .. bad, .. Encoding.UTF8.GetBytes(parts[1])];
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public async Task EachKindOfInvalidTextIs400NamingTheField(string path, string template, string field)
    {
        await using var s = await TestServer.StartAsync();
        foreach (var bad in Invalid)
        {
            var r = await s.PostAsync(path, Body(template, bad));
            Assert.True(r.Status == 400, $"{Encoding.Latin1.GetString(Body(template, bad))}: {r.Status} {r.Body}");
            string message = r.Body.GetProperty("error").GetProperty("message").GetString()!;
            Assert.Contains($"'{field}' is not valid Unicode", message);
            Assert.DoesNotContain(" at ", message);
        }
        var ok = await s.PostAsync("/v1/completions", """{"prompt": "valid text", "max_tokens": 1}""");
        Assert.Equal(200, ok.Status);
    }

    [Fact]
    public void ValidTextAndMalformedJsonAreLeftToTheParser()
    {
        Assert.Null(JsonUnicode.FirstInvalidString("""{"a": ["\ud83d\ude00", "é", {"b": "\u00e9"}]}"""));
        Assert.Null(JsonUnicode.FirstInvalidString("""{"a": [1, 2"""));
        Assert.Equal("a[2].b", JsonUnicode.FirstInvalidString("""{"a": [1, "x", {"b": "\udc00"}]}"""));
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bamba.Tests.Server;

namespace Bamba.Tests.Hardening;

/// <summary>
/// A few hundred malformed requests from a seeded generator (valid requests with fields replaced by hostile values,
/// bodies cut short or with bytes changed): never a 5xx, never .NET's text or a stack trace in a response, and the
/// greedy output of a fixed request is the same before and after.
/// </summary>
public class HttpFuzzTests
{
    private static readonly string[] Completions =
    [
        """{"prompt": "hello", "max_tokens": 3}""",
        """{"prompt": [1, 2, 3], "max_tokens": 3, "n": 2, "logprobs": 2, "echo": true}""",
        """{"prompt": ["a", "b"], "max_tokens": 2, "stop": ["x"], "temperature": 0.7, "seed": 1, "top_p": 0.9}""",
        """{"prompt": "hi", "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true}}""",
    ];

    private static readonly string[] Chats =
    [
        """{"messages": [{"role": "user", "content": "hello"}], "max_tokens": 3}""",
        """{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_completion_tokens": 2, "logprobs": true, "top_logprobs": 2}""",
        """{"messages": [{"role": "user", "content": "x"}], "max_tokens": 2, "stream": true, "n": 2, "temperature": 1.5, "top_k": 5}""",
    ];

    [Fact]
    public async Task MalformedRequestsNeverAnswer5xx()
    {
        await using var s = await TestServer.StartAsync(TestServer.DefaultOptions with { MaxContext = 64 });
        const string Probe = """{"prompt": [5, 6, 7], "max_tokens": 8, "ignore_eos": true}""";
        var before = await s.PostAsync("/v1/completions", Probe);
        Assert.Equal(200, before.Status);
        var fuzz = new HostileInput(HostileInput.Seed);
        for (int i = 0; i < 300 * HostileInput.Scale; i++)
        {
            bool chat = fuzz.Random.Next(2) == 0;
            var body = HostileInput.Bytes(fuzz.Mutate(JsonNode.Parse(fuzz.Pick(chat ? Chats : Completions))!));
            if (fuzz.Random.Next(5) == 0) body = fuzz.Corrupt(body, body.Length);
            string path = chat ? "/v1/chat/completions" : "/v1/completions";
            var (status, text) = await PostRawAsync(s, path, body);
            string shown = Encoding.UTF8.GetString(body);
            Assert.True(status < 500, $"case {i}: {path} {shown} answered {status}: {text}");
            Assert.DoesNotContain("   at ", text);
            Assert.DoesNotContain("Exception", text);
            if (status >= 400) Assert.True(JsonDocument.Parse(text).RootElement.TryGetProperty("error", out _), $"case {i}: {text}");
        }
        var after = await s.PostAsync("/v1/completions", Probe);
        Assert.Equal(Ids(before.Body), Ids(after.Body));
        Assert.Equal(0, (await s.MetricsAsync())["bamba_kv_blocks_used"]);
    }

    private static string Ids(JsonElement response) => response.GetProperty("choices")[0].GetProperty("text").GetString()!;

    /// <summary>Posts and reads the whole answer (a stream's events included) as text.</summary>
    private static async Task<(int Status, string Text)> PostRawAsync(TestServer s, string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await s.Http.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

using System.Text.Json;
using Bamba.Serving;

namespace Bamba.Tests.Server;

/// <summary>/tokenize and /detokenize, logit_bias, and a parameter the server does not know refused by name.</summary>
public class TokenizeAndParameterTests
{
    private static async Task<TestServer> StartAsync(TinyTextModel model) =>
        await TestServer.StartAsync(ServingEngine.Load(model.Directory, TestServer.DefaultOptions, TestServer.ModelId));

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip_as_the_tokenizer_does()
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        var text = s.Engine.Text!;
        var (status, body, _) = await s.PostAsync("/tokenize", """{"prompt": "the cat"}""");
        Assert.Equal(200, status);
        var ids = body.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(text.Encode("the cat", addSpecialTokens: true), ids);
        Assert.Equal(ids.Length, body.GetProperty("count").GetInt32());
        Assert.Equal(s.Engine.MaxContext, body.GetProperty("max_model_len").GetInt32());

        (status, body, _) = await s.PostAsync("/tokenize", """{"messages": [{"role": "user", "content": "hi"}]}""");
        Assert.Equal(200, status);
        Assert.Equal(s.Engine.EncodeChat([new ChatTurn("user", "hi")]), body.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));

        (status, body, _) = await s.PostAsync("/detokenize", $$"""{"tokens": {{JsonSerializer.Serialize(ids)}}}""");
        Assert.Equal(200, status);
        Assert.Equal("the cat", body.GetProperty("prompt").GetString());

        (status, body, _) = await s.PostAsync("/detokenize", """{"tokens": [99999]}""");
        Assert.Equal(400, status);
        Assert.Equal("tokens", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Logit_bias_forces_and_bans_tokens()
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        const string messages = """[{"role": "user", "content": "hello"}]""";
        var (status, body, _) = await s.PostAsync("/v1/chat/completions",
            """{"messages": """ + messages + """, "max_tokens": 5, "temperature": 1, "logit_bias": {"120": 100}}""");
        Assert.Equal(200, status);
        Assert.Equal("xxxxx", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()); // byte 120 = 'x'

        // Greedy between two forced letters ('x' = 120, 'y' = 121); banning the winner leaves the other.
        const string both = "\"120\": 100, \"121\": 100";
        var (_, pick, _) = await s.PostAsync("/v1/chat/completions",
            """{"messages": """ + messages + """, "max_tokens": 1, "temperature": 0, "logit_bias": {""" + both + "}}");
        string winner = pick.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Contains(winner, new[] { "x", "y" });
        string ban = winner == "x" ? "\"120\": -100, \"121\": 100" : "\"120\": 100, \"121\": -100";
        var (_, banned, _) = await s.PostAsync("/v1/chat/completions",
            """{"messages": """ + messages + """, "max_tokens": 1, "temperature": 0, "logit_bias": {""" + ban + "}}");
        Assert.Equal(winner == "x" ? "y" : "x", banned.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        (status, body, _) = await s.PostAsync("/v1/chat/completions", """{"messages": """ + messages + """, "logit_bias": {"5": 101}}""");
        Assert.Equal(400, status);
        Assert.Equal("logit_bias", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "audio": {"voice": "alloy"}}""", "audio")]
    [InlineData("/v1/completions", """{"prompt": "x", "guided_regex": "a+"}""", "guided_regex")]
    public async Task An_unknown_parameter_is_a_400_naming_it(string path, string json, string field)
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        var (status, body, _) = await s.PostAsync(path, json);
        Assert.Equal(400, status);
        Assert.Equal(field, body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains($"'{field}'", body.GetProperty("error").GetProperty("message").GetString());
    }
}

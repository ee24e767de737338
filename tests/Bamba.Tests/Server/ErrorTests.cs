using System.Text.Json;
using Bamba.Generation.Scheduling;

namespace Bamba.Tests.Server;

/// <summary>Each class of bad request gets OpenAI's error shape and the right status, and the server goes on serving.</summary>
public class ErrorTests
{
    private static void AssertError(int expectedStatus, string? expectedParam, string? expectedCode, (int Status, JsonElement Body, HttpResponseMessage _) r)
    {
        Assert.Equal(expectedStatus, r.Status);
        var error = r.Body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        if (expectedParam is not null) Assert.Equal(expectedParam, error.GetProperty("param").GetString());
        if (expectedCode is not null) Assert.Equal(expectedCode, error.GetProperty("code").GetString());
    }

    private static async Task AssertStillServes(TestServer s)
    {
        var r = await s.PostAsync("/v1/completions", """{"model": "tiny-bamba", "prompt": [1, 2, 3], "max_tokens": 2}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("ok", JsonDocument.Parse(await s.Http.GetStringAsync("/health")).RootElement.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("{\"model\": \"tiny-bamba\", \"prompt\": [1, 2")]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("[1, 2, 3]")]
    public async Task MalformedJsonIs400(string body)
    {
        await using var s = await TestServer.StartAsync();
        AssertError(400, null, "invalid_json", await s.PostAsync("/v1/completions", body));
        AssertError(400, null, "invalid_json", await s.PostAsync("/v1/chat/completions", body));
        await AssertStillServes(s);
    }

    [Fact]
    public async Task AFieldOfTheWrongTypeIs400NamingIt()
    {
        await using var s = await TestServer.StartAsync();
        AssertError(400, "max_tokens", "invalid_json", await s.PostAsync("/v1/completions", """{"prompt": [1], "max_tokens": "many"}"""));
        AssertError(400, "messages[0].role", "invalid_json", await s.PostAsync("/v1/chat/completions", """{"messages": [{"role": 7, "content": "x"}]}"""));
        await AssertStillServes(s);
    }

    [Fact]
    public async Task AnUnknownModelIs400()
    {
        await using var s = await TestServer.StartAsync();
        AssertError(400, "model", "model_not_found", await s.PostAsync("/v1/completions", """{"model": "gpt-4", "prompt": [1]}"""));
        AssertError(400, "model", "model_not_found", await s.PostAsync("/v1/chat/completions", """{"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}"""));
        await AssertStillServes(s);
    }

    [Theory]
    [InlineData("completions", """{"prompt": [1], "temperature": 2.5}""", "temperature")]
    [InlineData("completions", """{"prompt": [1], "top_p": 0}""", "top_p")]
    [InlineData("completions", """{"prompt": [1], "top_k": -5}""", "top_k")]
    [InlineData("completions", """{"prompt": [1], "min_p": 1.5}""", "min_p")]
    [InlineData("completions", """{"prompt": [1], "presence_penalty": 3}""", "presence_penalty")]
    [InlineData("completions", """{"prompt": [1], "frequency_penalty": -3}""", "frequency_penalty")]
    [InlineData("completions", """{"prompt": [1], "n": 0}""", "n")]
    [InlineData("completions", """{"prompt": [1], "logprobs": 21}""", "logprobs")]
    [InlineData("completions", """{"prompt": [1], "max_tokens": 0}""", "max_tokens")]
    [InlineData("completions", """{"prompt": [1], "max_tokens": -1}""", "max_tokens")]
    [InlineData("completions", """{"prompt": [1], "stop": ["a", "b", "c", "d", "e"]}""", "stop")]
    [InlineData("completions", """{"prompt": [1], "stop": 5}""", "stop")]
    [InlineData("completions", """{"prompt": [1, 512]}""", "prompt")]
    [InlineData("completions", """{"prompt": []}""", "prompt")]
    [InlineData("completions", """{"prompt": {"a": 1}}""", "prompt")]
    [InlineData("completions", """{"prompt": [1], "suffix": "x"}""", "suffix")]
    [InlineData("completions", """{"prompt": [1], "stop_token_ids": [9999]}""", "stop_token_ids")]
    [InlineData("chat/completions", """{"messages": []}""", "messages")]
    [InlineData("chat/completions", """{"messages": [{"role": "wizard", "content": "x"}]}""", "messages[0].role")]
    [InlineData("chat/completions", """{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}""", "messages[0].content")]
    [InlineData("chat/completions", """{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}""", "top_logprobs")]
    [InlineData("chat/completions", """{"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0}""", "max_completion_tokens")]
    public async Task BadParameterValuesAre400NamingTheParameter(string endpoint, string body, string param)
    {
        await using var s = await TestServer.StartAsync();
        AssertError(400, param, null, await s.PostAsync("/v1/" + endpoint, body));
        await AssertStillServes(s);
    }

    [Fact]
    public async Task PromptPlusMaxTokensOverTheContextIs400()
    {
        await using var s = await TestServer.StartAsync(new SchedulerOptions { MaxContext = 64, PrefillChunk = 16, MaxStepTokens = 32 });
        string prompt = string.Join(",", Enumerable.Range(3, 60));
        AssertError(400, "max_tokens", "context_length_exceeded", await s.PostAsync("/v1/completions", $$"""{"prompt": [{{prompt}}], "max_tokens": 5}"""));
        string longPrompt = string.Join(",", Enumerable.Range(3, 70));
        AssertError(400, null, "context_length_exceeded", await s.PostAsync("/v1/completions", $$"""{"prompt": [{{longPrompt}}]}"""));
        AssertError(400, "max_tokens", "context_length_exceeded",
            await s.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 60}"""));
        Assert.Equal(200, (await s.PostAsync("/v1/completions", $$"""{"prompt": [{{prompt}}], "max_tokens": 4}""")).Status);
    }

    [Fact]
    public async Task AWrongOrMissingKeyIs401()
    {
        await using var s = await TestServer.StartAsync();
        AssertError(401, null, "invalid_api_key", await s.PostAsync("/v1/completions", """{"prompt": [1]}""", key: "wrong"));
        AssertError(401, null, "invalid_api_key", await s.PostAsync("/v1/completions", """{"prompt": [1]}""", key: null));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Authorization = new("Bearer", "wrong");
        Assert.Equal(401, (int)(await s.Anonymous.SendAsync(request)).StatusCode);
        Assert.Equal(200, (int)(await s.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(200, (int)(await s.Anonymous.GetAsync("/health")).StatusCode); // probes and scrapers need no key
        Assert.Equal(200, (int)(await s.Anonymous.GetAsync("/metrics")).StatusCode);
        await AssertStillServes(s);
    }

    [Fact]
    public async Task AFullQueueIs429WithRetryAfter()
    {
        await using var s = await TestServer.StartAsync(new SchedulerOptions { MaxBatch = 1, MaxQueue = 1, MaxContext = 4096, PrefillChunk = 16, MaxStepTokens = 32 });
        const string Long = """{"prompt": [1, 2, 3], "max_tokens": 4000, "ignore_eos": true, "stream": true}""";
        using var cancel = new CancellationTokenSource();
        // Hold the only slot and the only queue place with two streams, then ask once more.
        var held = new List<HttpResponseMessage>();
        for (int i = 0; i < 2; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Long, System.Text.Encoding.UTF8, "application/json") };
            held.Add(await s.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token));
        }
        Assert.All(held, r => Assert.Equal(200, (int)r.StatusCode));
        // The scheduler admits the first stream on its own thread: wait for it to take the slot.
        var m = await s.MetricsAsync();
        for (int i = 0; i < 100 && m["bamba_running_sequences"] < 1; i++) { await Task.Delay(50); m = await s.MetricsAsync(); }
        Assert.Equal((1.0, 1.0, 0.0, 0.0), (m["bamba_running_sequences"], m["bamba_queue_length"], m["bamba_requests_cancelled_total"], m["bamba_requests_rejected_total"]));
        var refused = await s.PostAsync("/v1/completions", """{"prompt": [1], "max_tokens": 2}""");
        AssertError(429, null, "rate_limit_exceeded", refused);
        Assert.True(refused.Response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));

        foreach (var r in held) r.Dispose(); // disconnect: both sequences are cancelled and their slots freed
        for (int i = 0; i < 100 && (await s.MetricsAsync())["bamba_running_sequences"] > 0; i++) await Task.Delay(50);
        await AssertStillServes(s);
    }

    [Fact]
    public async Task AModelFailureFailsItsRequestAndTheServerGoesOn()
    {
        var model = new FailingModel(Bamba.Modeling.BambaModel.Load(Fixtures.Model("tiny-bamba")));
        await using var s = await TestServer.StartAsync(new Bamba.Serving.ServingEngine(model, null, TestServer.DefaultOptions, TestServer.ModelId));
        string poisoned = $$"""{"prompt": [1, 2, {{FailingModel.Poison}}], "max_tokens": 4}""";

        AssertError(500, null, "internal_error", await s.PostAsync("/v1/completions", poisoned));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        { Content = new StringContent(poisoned.Replace("}", ", \"stream\": true}"), System.Text.Encoding.UTF8, "application/json") };
        var stream = await s.Http.SendAsync(request);
        Assert.Equal(200, (int)stream.StatusCode); // the headers were out before the model failed
        var events = (await stream.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        Assert.Equal("internal_error", JsonDocument.Parse(events[^2]["data: ".Length..]).RootElement.GetProperty("error").GetProperty("code").GetString());

        await AssertStillServes(s);
        Assert.Equal(0, (await s.MetricsAsync())["bamba_running_sequences"]);
    }

    [Fact]
    public async Task UnknownRoutesAndMethodsAnswerInTheSameShape()
    {
        await using var s = await TestServer.StartAsync();
        var r = await s.Http.GetAsync("/v1/nothing");
        Assert.Equal(404, (int)r.StatusCode);
        Assert.Equal("not_found", JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        var wrongType = await s.Http.PostAsync("/v1/completions", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(415, (int)wrongType.StatusCode);
        await AssertStillServes(s);
    }
}

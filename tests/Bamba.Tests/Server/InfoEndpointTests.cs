using System.Text.Json;

namespace Bamba.Tests.Server;

/// <summary>/v1/models, /health, /metrics and the OpenAPI document; n choices in one stream.</summary>
public class InfoEndpointTests
{
    [Fact]
    public async Task ModelsListsTheServedModelThroughTheOpenAiClient()
    {
        await using var s = await TestServer.StartAsync();
        var models = (await s.OpenAI.GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Equal(TestServer.ModelId, Assert.Single(models).Id);
        var raw = JsonDocument.Parse(await s.Http.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal(512, raw.GetProperty("data")[0].GetProperty("max_model_len").GetInt32());
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesTheEndpoints()
    {
        await using var s = await TestServer.StartAsync();
        var doc = JsonDocument.Parse(await s.Http.GetStringAsync("/openapi/v1.json")).RootElement;
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics" })
            Assert.True(paths.TryGetProperty(path, out _), $"{path} missing from the OpenAPI document");
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("CompletionRequest").GetProperty("properties").TryGetProperty("max_tokens", out _),
            "request fields should appear with their wire (snake_case) names");
    }

    [Fact]
    public async Task MetricsAreValidPrometheusTextWithHistograms()
    {
        await using var s = await TestServer.StartAsync();
        Assert.Equal(200, (await s.PostAsync("/v1/completions", """{"prompt": [1, 2, 3], "max_tokens": 5, "ignore_eos": true}""")).Status);
        var response = await s.Http.GetAsync("/metrics");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        var m = await s.MetricsAsync();
        Assert.Equal(5, m["bamba_generation_tokens_total"]);
        Assert.Equal(3, m["bamba_prompt_tokens_total"]);
        Assert.Equal(1, m["bamba_time_to_first_token_seconds_count"]);
        Assert.Equal(4, m["bamba_inter_token_latency_seconds_count"]);
        Assert.Equal(m["bamba_inter_token_latency_seconds_count"],
            m["bamba_inter_token_latency_seconds_bucket{otel_scope_name=\"Bamba.Server\",model=\"tiny-bamba\",le=\"+Inf\"}"]);
        Assert.Equal(0, m["bamba_running_sequences"]);
    }

    [Fact]
    public async Task EachServerInOneProcessExportsOnlyItsOwnMetrics()
    {
        // OpenTelemetry listens to meters by name: without scoping, the idle server's zeros would overwrite the busy one's.
        await using var busy = await TestServer.StartAsync();
        await using var idle = await TestServer.StartAsync();
        Assert.Equal(200, (await busy.PostAsync("/v1/completions", """{"prompt": [1, 2], "max_tokens": 3, "ignore_eos": true}""")).Status);
        Assert.Equal(3, (await busy.MetricsAsync())["bamba_generation_tokens_total"]);
        var quiet = await idle.MetricsAsync();
        Assert.Equal(0, quiet["bamba_generation_tokens_total"]);
        Assert.False(quiet.ContainsKey("bamba_time_to_first_token_seconds_count"));
    }

    [Fact]
    public async Task NChoicesStreamWithTheirOwnIndexAndFinish()
    {
        await using var s = await TestServer.StartAsync(withText: false);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"prompt": [[1, 2, 3], [4, 5]], "n": 2, "max_tokens": 3, "ignore_eos": true, "temperature": 0.8, "seed": 1, "stream": true}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        var body = await (await s.Http.SendAsync(request)).Content.ReadAsStringAsync();
        var chunks = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(e => e != "data: [DONE]")
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0]).ToList();
        for (int index = 0; index < 4; index++) // prompt-major: choices 0, 1 for the first prompt, 2, 3 for the second
        {
            var mine = chunks.Where(c => c.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal(3, mine.Count(c => c.TryGetProperty("token_ids", out _)));
            Assert.Equal("length", mine[^1].GetProperty("finish_reason").GetString());
        }
    }
}

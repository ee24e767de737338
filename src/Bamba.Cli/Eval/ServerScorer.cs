using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Cli.Eval;

/// <summary>
/// A running OpenAI-compatible server (ours, vLLM, ...) scores the sequences: one POST /v1/completions with the
/// token-id prompts, <c>echo: true</c>, <c>logprobs: 0</c> and <c>max_tokens: 0</c>, which answers each prompt
/// token's log-probability (the first null) and generates nothing, as lm-evaluation-harness asks such servers. Every
/// way the server can fail to do that is one line naming the URL.
/// </summary>
internal sealed class ServerScorer : ITokenScorer, IDisposable
{
    private readonly HttpClient _http;
    private readonly string _url;

    private ServerScorer(HttpClient http, string url, string model)
    {
        _http = http;
        _url = url;
        Model = model;
    }

    /// <summary>The <c>model</c> sent with each request: the given one, else the first id the server lists.</summary>
    public string Model { get; }

    public static ServerScorer Connect(string url, string? model, string? apiKey, TimeSpan timeout)
    {
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new BambaException($"--url {url}: not an http:// or https:// address");
        var http = new HttpClient { BaseAddress = uri, Timeout = timeout };
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        try { return new ServerScorer(http, url, model ?? FirstModel(http, url)); }
        catch { http.Dispose(); throw; }
    }

    /// <summary>The server's model, from GET /v1/models (OpenAI's list: <c>{"data": [{"id": ...}, ...]}</c>).</summary>
    private static string FirstModel(HttpClient http, string url)
    {
        var body = Send(http, url, new HttpRequestMessage(HttpMethod.Get, "v1/models"), "GET /v1/models");
        return body["data"] is JsonArray { Count: > 0 } data && Text((data[0] as JsonObject)?["id"]) is { } name
            ? name : throw new BambaException($"--url {url}: GET /v1/models lists no model; name one with --served-model");
    }

    public IReadOnlyList<double?[]> Score(IReadOnlyList<int[]> sequences)
    {
        var request = new JsonObject
        {
            ["model"] = Model,
            ["prompt"] = new JsonArray(sequences.Select(s => (JsonNode)new JsonArray(s.Select(id => (JsonNode)id).ToArray())).ToArray()),
            ["max_tokens"] = 0,
            ["echo"] = true,
            ["logprobs"] = 0,
            ["temperature"] = 0,
        };
        var message = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        var body = Send(_http, _url, message, "POST /v1/completions");
        var choices = body["choices"] as JsonArray ?? throw Refused("its answer has no choices");
        var result = new double?[sequences.Count][];
        foreach (var choice in choices.Select(c => c as JsonObject ?? throw Refused("a choice is not a JSON object")))
        {
            int index = choice["index"] is JsonValue i && i.TryGetValue(out int k) && k >= 0 && k < result.Length ? k : throw Refused("a choice has no valid index");
            result[index] = PromptLogprobs(choice, sequences[index].Length);
        }
        return result.Select((r, i) => r ?? throw Refused($"prompt {i} got no choice")).ToArray();
    }

    /// <summary>The echoed prompt's token logprobs: exactly one per prompt token, the first null.</summary>
    private double?[] PromptLogprobs(JsonObject choice, int tokens)
    {
        if ((choice["logprobs"] as JsonObject)?["token_logprobs"] is not JsonArray values)
            throw Refused("it returns no token_logprobs (it must support echo with logprobs)");
        if (values.Count < tokens)
            throw Refused($"it echoed {values.Count} token logprobs for a prompt of {tokens} tokens (it must support echo with logprobs)");
        var result = new double?[tokens];
        for (int t = 1; t < tokens; t++)
            result[t] = values[t] is JsonValue v && v.TryGetValue(out double d) ? d : throw Refused($"prompt token {t} has no logprob");
        return result;
    }

    private BambaException Refused(string why) => new($"--url {_url}: the server cannot score prompts: {why}");

    private static JsonObject Send(HttpClient http, string url, HttpRequestMessage message, string what)
    {
        HttpResponseMessage response;
        string text;
        try
        {
            response = http.Send(message);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            text = reader.ReadToEnd();
        }
        catch (HttpRequestException e) { throw new BambaException($"--url {url}: cannot reach the server ({e.Message})"); }
        catch (TaskCanceledException) { throw new BambaException($"--url {url}: no answer to {what} within {http.Timeout.TotalSeconds:0} s"); }
        JsonObject? body = null;
        try { body = JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { }
        if (!response.IsSuccessStatusCode)
        {
            // OpenAI's {"error": {"message"}}, or the {"message"} of older servers.
            string reason = Text((body?["error"] as JsonObject)?["message"]) ?? Text(body?["message"]) ?? response.ReasonPhrase ?? "";
            throw new BambaException($"--url {url}: {what} failed with HTTP {(int)response.StatusCode}: {OneLine(reason)}");
        }
        return body ?? throw new BambaException($"--url {url}: {what} did not answer a JSON object");
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    public void Dispose() => _http.Dispose();
}

using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Json;
using System.Text.Json;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Serving;
using Bamba.Server;
using OpenAI;

namespace Bamba.Tests.Server;

/// <summary>
/// The server on 127.0.0.1 with a free port, serving tiny-bamba (with <see cref="CharCodec"/> as its text side), plus
/// the clients the tests drive it with: the official OpenAI client, and plain HTTP for what that client cannot send.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    public const string ModelId = "tiny-bamba";
    public const string Key = "test-key";

    private TestServer(ServingEngine engine, BambaServer server)
    {
        Engine = engine;
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        Http.DefaultRequestHeaders.Authorization = new("Bearer", Key);
        Anonymous = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        OpenAI = new OpenAIClient(new ApiKeyCredential(Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(server.Address, "v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a failure must show, not be retried away
        });
    }

    public ServingEngine Engine { get; }
    public BambaServer Server { get; }
    /// <summary>Sends the test key with every request.</summary>
    public HttpClient Http { get; }
    /// <summary>Sends no key unless a request carries one.</summary>
    public HttpClient Anonymous { get; }
    public OpenAIClient OpenAI { get; }
    public CharCodec Codec => (CharCodec)Engine.Text!;
    public string Model => Engine.ModelId;

    public static async Task<TestServer> StartAsync(SchedulerOptions? options = null, bool withText = true, ServerOptions? server = null)
    {
        var model = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        return await StartAsync(new ServingEngine(model, withText ? new CharCodec() : null, options ?? DefaultOptions, ModelId), server);
    }

    public static SchedulerOptions DefaultOptions => new() { MaxBatch = 8, PrefillChunk = 16, MaxStepTokens = 32, MaxContext = 512 };

    /// <summary>Serves <paramref name="engine"/> (taking ownership), with <paramref name="server"/>'s settings but a free port, the test key and no request log lines.</summary>
    public static async Task<TestServer> StartAsync(ServingEngine engine, ServerOptions? server = null)
    {
        var options = (server ?? new ServerOptions()) with { Port = 0, ApiKey = Key, LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning };
        try { return new TestServer(engine, await BambaServer.StartAsync(engine, options)); }
        catch { engine.Dispose(); throw; }
    }

    /// <summary>POST /v1/completions through the OpenAI client's own pipeline (the client has no public legacy-completions API).</summary>
    public async Task<JsonElement> CompletionViaOpenAiPipelineAsync(object body)
    {
        var pipeline = OpenAI.GetChatClient(Model).Pipeline;
        using var message = pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(Server.Address, "v1/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Headers.Set("Authorization", "Bearer " + Key);
        message.Request.Content = BinaryContent.Create(BinaryData.FromObjectAsJson(body));
        await pipeline.SendAsync(message);
        Assert.True(message.Response!.Status == 200, message.Response.Content.ToString());
        return JsonDocument.Parse(message.Response.Content.ToString()).RootElement.Clone();
    }

    public Task<(int Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, string json, string? key = Key) =>
        PostAsync(path, System.Text.Encoding.UTF8.GetBytes(json), key);

    /// <summary>Posts raw bytes as JSON: what a client that sends invalid UTF-8 sends.</summary>
    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, byte[] body, string? key = Key)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Authorization = key is null ? null : new("Bearer", key);
        var response = await Anonymous.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    /// <summary>The greedy ids the scheduler gives this prompt when it runs alone (the reference for batching tests).</summary>
    public async Task<int[]> GreedyAloneAsync(int[] prompt, int maxTokens)
    {
        var (tokens, _) = await Engine.Scheduler.RunAsync(new SequenceRequest
        { Prompt = prompt, MaxNewTokens = maxTokens, EosTokenIds = Engine.EosTokenIds });
        return tokens.Select(t => t.Id).ToArray();
    }

    public async Task<Dictionary<string, double>> MetricsAsync()
    {
        string text = await Http.GetStringAsync("/metrics");
        var values = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            string name = line[..space];
            int brace = name.IndexOf('{');
            if (brace >= 0 && !name.Contains("le=")) name = name[..brace];
            values[name] = double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Anonymous.Dispose();
        await Server.DisposeAsync();
        Engine.Dispose();
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Bamba.Serving;
using Bamba.Tests.Server;

namespace Bamba.Tests.Cli;

/// <summary>
/// <c>bamba eval --url</c> against the server in this process gives the numbers eval gives on the model directly; a
/// server that cannot score (unreachable, refusing, no echo logprobs) is one line and exit 2. Multiple-choice batches
/// (several context+choice sequences packed in one forward pass) give the log-likelihoods of one at a time.
/// </summary>
public sealed class EvalUrlAndBatchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-evalurl-").FullName;
    private static readonly string Model = Path.Combine(Fixtures.RepositoryRoot, "models", "default");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tasks()
    {
        string file = Path.Combine(_dir, "tasks.jsonl");
        File.WriteAllLines(file,
        [
            """{"context": "Q: What has keys but cannot open locks?\nA:", "choices": [" A piano.", " A towel.", " The moon."], "label": 0}""",
            """{"context": "Q: What gets wetter as it dries?\nA:", "choices": [" A piano.", " A towel."], "label": 1}""",
            """{"context": "", "choices": [" Q: Why", " A: Because"], "label": 0}""",
            """{"context": "Q: What can you catch but not throw?\nA: A", "choices": [" cold.", " ball.", " fish."], "label": 0}""",
        ]);
        return file;
    }

    private string Text()
    {
        string file = Path.Combine(_dir, "text.txt");
        File.WriteAllText(file, "Q: What has keys but cannot open locks?\nA: A piano.\n\nQ: What gets wetter as it dries?\nA: A towel.\n");
        return file;
    }

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout.Trim()).RootElement;
    }

    private static double[][] LogLikelihoods(JsonElement report) =>
        report.GetProperty("loglikelihoods").EnumerateArray().Select(a => a.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();

    [Fact]
    public void BatchedMultipleChoiceEqualsOneSequenceAtATime()
    {
        string tasks = Tasks();
        var one = Json(CliRunner.Run("eval", "--model", Model, "--tasks", tasks, "--format", "json", "--batch-size", "1"));
        var batched = Json(CliRunner.Run("eval", "--model", Model, "--tasks", tasks, "--format", "json", "--batch-size", "5"));
        var expected = LogLikelihoods(one);
        var actual = LogLikelihoods(batched);
        // float32 logits: a short sequence alone takes the CPU's GEMV kernel, packed with others the GEMM one, whose
        // summation orders differ in the last bits; summed over a choice's tokens that stays far below 1e-5.
        for (int i = 0; i < expected.Length; i++)
            for (int c = 0; c < expected[i].Length; c++) Assert.Equal(expected[i][c], actual[i][c], 1e-5);
        Assert.Equal(one.GetProperty("acc").GetDouble(), batched.GetProperty("acc").GetDouble());
        Assert.Equal(one.GetProperty("acc_norm").GetDouble(), batched.GetProperty("acc_norm").GetDouble());
    }

    [Fact]
    public async Task EvalOverUrlEqualsEvalOnTheModel()
    {
        await using var s = await TestServer.StartAsync(ServingEngine.Load(Model, TestServer.DefaultOptions, "default"));
        string url = s.Server.Address.ToString(), tasks = Tasks(), text = Text();
        string[] remote = ["--url", url, "--api-key", TestServer.Key];

        var local = Json(CliRunner.Run("eval", "--model", Model, "--tasks", tasks, "--format", "json"));
        var served = Json(CliRunner.Run(["eval", "--model", Model, "--tasks", tasks, "--format", "json", .. remote]));
        var expected = LogLikelihoods(local);
        var actual = LogLikelihoods(served);
        for (int i = 0; i < expected.Length; i++)
            for (int c = 0; c < expected[i].Length; c++) Assert.Equal(expected[i][c], actual[i][c], 1e-4);
        Assert.Equal(local.GetProperty("acc").GetDouble(), served.GetProperty("acc").GetDouble());

        string[] perplexity = ["eval", "--model", Model, "--perplexity", text, "--context", "16", "--stride", "5", "--format", "json"];
        var localPpl = Json(CliRunner.Run(perplexity));
        var servedPpl = Json(CliRunner.Run([.. perplexity, .. remote, "--served-model", "default"]));
        Assert.Equal(localPpl.GetProperty("tokens").GetInt32(), servedPpl.GetProperty("tokens").GetInt32());
        Assert.Equal(localPpl.GetProperty("nll").GetDouble(), servedPpl.GetProperty("nll").GetDouble(), 1e-4);
    }

    [Fact]
    public async Task AServerThatCannotScoreIsOneLine()
    {
        string tasks = Tasks();
        string[] eval = ["eval", "--model", Model, "--tasks", tasks];
        // Nothing listens on a port just freed.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", $"http://127.0.0.1:{port}"]), "cannot reach the server");
        CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", "ftp://example.org"]), "not an http:// or https:// address");
        CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", "http://127.0.0.1:1", "--device", "cuda"]), "--device sets up a local model");
        CliRunner.AssertUserError(CliRunner.Run([.. eval, "--served-model", "x"]), "--served-model goes with --url");

        await using (var s = await TestServer.StartAsync(ServingEngine.Load(Model, TestServer.DefaultOptions, "default")))
        {
            string url = s.Server.Address.ToString();
            CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", url, "--api-key", TestServer.Key, "--served-model", "default:nope"]),
                "POST /v1/completions failed with HTTP 404: the model 'default:nope' does not exist");
            CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", url]), "GET /v1/models failed with HTTP 401");
        }

        // A server that completes but echoes no prompt logprobs.
        await using var fake = await FakeServer.StartAsync("""{"choices": [{"index": 0, "text": "", "logprobs": null}]}""");
        CliRunner.AssertUserError(CliRunner.Run([.. eval, "--url", fake.Url, "--served-model", "m"]), "returns no token_logprobs (it must support echo with logprobs)");
    }

    /// <summary>An HTTP server that answers every request with one fixed JSON body.</summary>
    private sealed class FakeServer : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Task _loop;

        private FakeServer(HttpListener listener, string url, string body)
        {
            _listener = listener;
            Url = url;
            _loop = Task.Run(async () =>
            {
                while (listener.IsListening)
                {
                    HttpListenerContext context;
                    try { context = await listener.GetContextAsync(); }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                    var bytes = Encoding.UTF8.GetBytes(body);
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
            });
        }

        public string Url { get; }

        public static Task<FakeServer> StartAsync(string body)
        {
            for (int attempt = 0; ; attempt++)
            {
                var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
                probe.Start();
                int port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                var listener = new HttpListener();
                string url = $"http://127.0.0.1:{port}/";
                listener.Prefixes.Add(url);
                try { listener.Start(); }
                catch (HttpListenerException) when (attempt < 5) { continue; } // the port was taken in between
                return Task.FromResult(new FakeServer(listener, url, body));
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}

using Bamba.Modeling;
using Bamba.Serving;
using Bamba.Server;
using Bamba.Tests.Server;
using Bamba.Tokenization;

namespace Bamba.Tests.Hardening;

/// <summary>
/// Limits the server applies before doing the work: text too long for the context is refused unread, a request that
/// could never be held at once is a 400 (not a 429 to retry for ever), and an empty API key is refused.
/// </summary>
public class ServerLimitTests
{
    /// <summary>The default model (a real byte-level BPE tokenizer) with a minimal chat template added.</summary>
    private static async Task<TestServer> DefaultModelServer(Bamba.Generation.Scheduling.SchedulerOptions options)
    {
        string source = Path.Combine(Fixtures.RepositoryRoot, "models", "default");
        string dir = Directory.CreateTempSubdirectory("bamba-limits-").FullName;
        foreach (var f in Directory.GetFiles(source)) File.CreateSymbolicLink(Path.Combine(dir, Path.GetFileName(f)), f);
        File.Delete(Path.Combine(dir, "tokenizer_config.json"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer_config.json")))!;
        config["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        var model = BambaModel.Load(dir);
        var engine = ServingEngine.ForModel(model, dir, options, TestServer.ModelId);
        Directory.Delete(dir, recursive: true); // the links only: the weights stay mapped
        return await TestServer.StartAsync(engine);
    }

    [Fact]
    public async Task TenMegabytePromptsAreRefusedBeforeTokenizing()
    {
        await using var s = await DefaultModelServer(TestServer.DefaultOptions with { MaxContext = 1024 });
        var tokenizer = ((HfTextCodec)s.Engine.Text!).Tokenizer;
        int perToken = tokenizer.MaxCharsPerToken!.Value;
        string huge = new('a', 10 << 20);
        // Tokenizing this would take seconds; refused unread, it is answered at once, for the prompt and for chat.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var prompt = await s.PostAsync("/v1/completions", System.Text.Json.JsonSerializer.Serialize(new { prompt = huge, max_tokens = 1 }));
        var chat = await s.PostAsync("/v1/chat/completions", System.Text.Json.JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = huge } } }));
        foreach (var r in new[] { prompt, chat })
        {
            Assert.True(r.Status == 400, r.Body.ToString());
            Assert.True(r.Body.GetProperty("error").GetProperty("code").GetString() == "context_length_exceeded", r.Body.ToString());
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{watch.Elapsed}");
        // The bound is sound: text just under it that fits in tokens is still served.
        Assert.True(perToken >= 2);
        var fits = await s.PostAsync("/v1/completions", """{"prompt": "hello world", "max_tokens": 1}""");
        Assert.Equal(200, fits.Status);
    }

    [Fact]
    public void TheBoundHoldsForEveryVocabularyEntry()
    {
        var tokenizer = HfTokenizer.Load(Path.Combine(Fixtures.RepositoryRoot, "models", "default"));
        int bound = tokenizer.MaxCharsPerToken!.Value;
        // Text made of the longest tokens repeated: never more characters per token than the bound.
        string text = string.Concat(Enumerable.Range(0, tokenizer.VocabSize).Select(id => tokenizer.Decode([id])).OrderByDescending(t => t.Length).Take(50));
        Assert.True(text.Length <= (long)tokenizer.Encode(text, addSpecialTokens: false).Length * bound);
    }

    [Theory]
    [InlineData("""{"prompt": [1, 2], "max_tokens": 1, "n": 8}""")]
    [InlineData("""{"prompt": [[1], [2], [3], [4], [5], [6]], "max_tokens": 1}""")]
    public async Task ARequestThatCanNeverBeHeldIs400Not429(string body)
    {
        await using var s = await TestServer.StartAsync(TestServer.DefaultOptions with { MaxBatch = 2, MaxQueue = 3 });
        var r = await s.PostAsync("/v1/completions", body);
        Assert.Equal(400, r.Status);
        Assert.Null(r.Response.Headers.RetryAfter);
        Assert.Contains("holds at most 5", r.Body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(200, (await s.PostAsync("/v1/completions", """{"prompt": [1, 2], "max_tokens": 1, "n": 5}""")).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public async Task AnEmptyApiKeyIsRefused(string key)
    {
        using var engine = new ServingEngine(BambaModel.Load(Fixtures.Model("tiny-bamba")), null, TestServer.DefaultOptions, TestServer.ModelId);
        var e = await Assert.ThrowsAsync<BambaException>(() => BambaServer.StartAsync(engine, new ServerOptions { Port = 0, ApiKey = key }));
        Assert.Contains("is empty", e.Message);
    }

    [Fact]
    public async Task KeysOfEveryLengthAreRefusedAndTheRightOneAccepted()
    {
        await using var s = await TestServer.StartAsync();
        foreach (var wrong in new[] { "", "t", "test-ke", "test-keY", "test-key-", TestServer.Key + new string('x', 10000) })
            Assert.Equal(401, (await s.PostAsync("/v1/completions", """{"prompt": [1], "max_tokens": 1}""", wrong)).Status);
        Assert.Equal(200, (await s.PostAsync("/v1/completions", """{"prompt": [1], "max_tokens": 1}""")).Status);
    }
}

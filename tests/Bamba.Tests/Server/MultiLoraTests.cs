using System.ClientModel;
using System.Text.Json;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Tests.Modeling;
using Bamba.Serving;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;
using OpenAI.Chat;

namespace Bamba.Tests.Server;

/// <summary>
/// Several LoRA adapters in one model, picked per sequence: a batch mixing the base and two adapters gives each
/// sequence exactly the logits and greedy tokens it gets alone on a model loaded with only its adapter (the
/// <c>--lora DIR</c> path), in the forward pass, through the continuous-batching scheduler (with the prefix cache on)
/// and over HTTP with the OpenAI client, which picks an adapter by <c>model</c>.
/// </summary>
public sealed class MultiLoraTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-multilora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A PEFT adapter on every target of <paramref name="model"/> with B random (seeded), saved under <see cref="_dir"/>.</summary>
    internal static string WriteAdapter(string directory, string model, int seed)
    {
        string dir = Fixtures.Model(model);
        using var store = WeightStore.Open(dir);
        var parameters = ParameterSet.FromStore(BambaConfigReader.Load(dir), store);
        var lora = new LoraSet(parameters, new LoraSettings(3, 6f, 0f, LoraSettings.AllTargets));
        lora.Initialize((ulong)seed);
        var rng = new SplitMix64((ulong)seed * 7 + 1);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.05);
        LoraFiles.Save(directory, lora, dir);
        return directory;
    }

    private (string A, string B) TwoAdapters(string model) =>
        (WriteAdapter(Path.Combine(_dir, model + "-a"), model, 3), WriteAdapter(Path.Combine(_dir, model + "-b"), model, 8));

    private static BambaModel Multi(string model, string a, string b)
    {
        var config = BambaConfigReader.Load(Fixtures.Model(model));
        return BambaModel.Load(Fixtures.Model(model), new ModelAdapters(null,
            [new NamedAdapter("a", LoraFiles.ReadDeltas(a, config)), new NamedAdapter("b", LoraFiles.ReadDeltas(b, config))]));
    }

    /// <summary>The base and each adapter alone: the references a mixed batch must reproduce.</summary>
    private static BambaModel[] Singles(string model, string a, string b)
    {
        var config = BambaConfigReader.Load(Fixtures.Model(model));
        return [BambaModel.Load(Fixtures.Model(model)), BambaModel.Load(Fixtures.Model(model), LoraFiles.ReadDeltas(a, config)),
                BambaModel.Load(Fixtures.Model(model), LoraFiles.ReadDeltas(b, config))];
    }

    private static int[] Prompt(int length, int seed, int vocab)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(3, vocab)).ToArray();
    }

    /// <summary>
    /// tiny-bamba's rows go through the same kernels batched or alone (prompts of 5+ rows take the GEMM path, the four
    /// decode rows the GEMV path either way), so its logits are bit for bit the same. A mixture of experts gathers each
    /// expert's rows, whose count then differs from the sequence alone and may pick the other kernel (another summation
    /// order): its logits agree to float rounding, 1e-5, as the base model's packed rows do.
    /// </summary>
    [Theory]
    [InlineData("tiny-bamba", 0.0)]
    [InlineData("tiny-granite-moe-hybrid", 1e-5)] // also a fused gate|up matrix: each half gets its rows of B
    public void AMixedBatchGivesEveryRowTheLogitsOfItsAdapterAlone(string model, double tolerance)
    {
        var (a, b) = TwoAdapters(model);
        using var multi = Multi(model, a, b);
        var singles = Singles(model, a, b);
        try
        {
            int vocab = multi.Config.VocabSize;
            // Base, a, a (neighbours share a span), b: prompts of 5+ rows each, then one decode step each.
            int[] picks = [0, 1, 1, 2];
            var prompts = picks.Select((_, i) => Prompt(5 + 2 * i, i, vocab)).ToArray();
            var states = picks.Select(p => { var s = multi.CreateState(); s.Adapter = p; return (SequenceState)s; }).ToArray();
            var alone = picks.Select(p => singles[p].CreateState()).ToArray();
            var options = new ForwardOptions { AllLogits = true };
            void AssertSame(float[] expected, float[] actual, string what)
            {
                if (tolerance == 0) Assert.Equal(expected, actual);
                else Tolerance.AssertClose(expected, actual, tolerance, what);
            }

            var batched = multi.StepAllLogits(states, prompts.Select(p => (SequenceInput)p).ToArray());
            for (int i = 0; i < picks.Length; i++)
                AssertSame(singles[picks[i]].Forward([alone[i]], [prompts[i]], options).Logits, batched[i], $"{model} prompt {i}");

            var next = picks.Select((_, i) => new[] { 7 + i }).ToArray();
            var decoded = multi.Step(states, next.Select(t => (SequenceInput)t).ToArray());
            for (int i = 0; i < picks.Length; i++) AssertSame(singles[picks[i]].Step([alone[i]], [next[i]])[0], decoded[i], $"{model} decode {i}");
            Assert.NotEqual(decoded[0], decoded[1]); // the adapters change the logits
            Assert.NotEqual(decoded[1], decoded[3]);
        }
        finally { foreach (var m in singles) m.Dispose(); }
    }

    [Fact]
    public void AStatesAdapterIsFixedBeforeItsFirstTokenAndMustExist()
    {
        var (a, b) = TwoAdapters("tiny-bamba");
        using var multi = Multi("tiny-bamba", a, b);
        Assert.Equal(new[] { "a", "b" }, multi.Adapters);
        var state = multi.CreateState();
        state.Adapter = 3;
        Assert.Throws<ArgumentException>(() => multi.Step([state], [new[] { 5 }]));
        var fresh = multi.CreateState();
        multi.Step([fresh], [new[] { 5 }]);
        Assert.Throws<InvalidOperationException>(() => fresh.Adapter = 1);
    }

    [Fact]
    public async Task TheSchedulerBatchesAdaptersTogetherAndCachesPrefixesPerAdapter()
    {
        var (a, b) = TwoAdapters("tiny-bamba");
        var singles = Singles("tiny-bamba", a, b);
        var options = new SchedulerOptions { MaxBatch = 8, PrefillChunk = 4, MaxStepTokens = 32, PrefixCacheBytes = 64 << 20 };
        // The same prompt under each adapter (a prefix cache keyed by tokens alone would hand one adapter's state to another).
        var shared = Prompt(13, 1, 512);
        var requests = Enumerable.Range(0, 9).Select(i => new SequenceRequest
        {
            Prompt = i < 3 ? shared : Prompt(6 + i, 10 + i, 512), MaxNewTokens = 6, EosTokenIds = [], Adapter = i % 3, Logprobs = true,
        }).ToArray();
        try
        {
            var alone = new GeneratedToken[requests.Length][];
            for (int i = 0; i < requests.Length; i++)
            {
                using var scheduler = new ContinuousBatchScheduler(singles[requests[i].Adapter], options with { PrefixCacheBytes = 0 });
                alone[i] = (await scheduler.RunAsync(requests[i] with { Adapter = 0 })).Tokens;
            }
            using var multi = Multi("tiny-bamba", a, b);
            using var together = new ContinuousBatchScheduler(multi, options);
            var first = await Task.WhenAll(requests.Select(r => together.RunAsync(r)));
            var again = await Task.WhenAll(requests.Select(r => together.RunAsync(r))); // now from the prefix cache
            Assert.True(together.Metrics.PrefixHitTokens > 0, "the second round should resume from cached prefixes");
            for (int i = 0; i < requests.Length; i++)
                foreach (var run in new[] { first[i].Tokens, again[i].Tokens })
                {
                    Assert.Equal(alone[i].Select(t => t.Id), run.Select(t => t.Id));
                    // Decode steps of 1 to 9 rows take either CPU kernel (GEMV up to 4 rows, GEMM beyond): float rounding apart.
                    Tolerance.AssertClose(alone[i].Select(t => (float)t.Logprob).ToArray(), run.Select(t => (float)t.Logprob).ToArray(), 1e-5, $"logprobs {i}");
                }
            Assert.True(together.Metrics.StepsTotal < 2 * requests.Sum(r => r.MaxNewTokens + 4), "sequences with different adapters should share steps");
            Assert.Throws<BambaException>(() => together.Submit(requests[0] with { Adapter = 3 }));
        }
        finally { foreach (var m in singles) m.Dispose(); }
    }

    private async Task<(TestServer Server, BambaModel[] Singles)> StartAsync()
    {
        var (a, b) = TwoAdapters("tiny-bamba");
        var engine = new ServingEngine(Multi("tiny-bamba", a, b), new CharCodec(), TestServer.DefaultOptions, TestServer.ModelId);
        return (await TestServer.StartAsync(engine), Singles("tiny-bamba", a, b));
    }

    [Fact]
    public async Task TheOpenAiClientPicksAnAdapterByModelAndModelsListsThem()
    {
        var (s, singles) = await StartAsync();
        await using var _ = s;
        try
        {
            var models = (await s.OpenAI.GetOpenAIModelClient().GetModelsAsync()).Value.Select(m => m.Id).ToArray();
            Assert.Equal(["tiny-bamba", "tiny-bamba:a", "tiny-bamba:b"], models);
            var raw = JsonDocument.Parse(await s.Http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
            Assert.Equal("tiny-bamba", raw[2].GetProperty("parent").GetString());

            ChatMessage[] conversation = [new UserChatMessage("hello there")];
            var prompt = s.Codec.Encode(s.Codec.RenderChat([new("user", "hello there")], true), addSpecialTokens: true);
            var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
            // All at once, so that the three share scheduler steps.
            string[] names = ["tiny-bamba", "tiny-bamba:a", "b"];
            var answers = await Task.WhenAll(names.Select(n => s.OpenAI.GetChatClient(n).CompleteChatAsync(conversation, options)));
            for (int i = 0; i < names.Length; i++)
            {
                using var alone = new ContinuousBatchScheduler(singles[i], TestServer.DefaultOptions);
                var expected = (await alone.RunAsync(new SequenceRequest { Prompt = prompt, MaxNewTokens = 10, EosTokenIds = s.Engine.EosTokenIds })).Tokens;
                Assert.Equal(s.Codec.Decode(expected.Select(t => t.Id).ToArray()), answers[i].Value.Content[0].Text);
                Assert.Equal(models[i], answers[i].Value.Model); // the canonical id, whichever form was asked for
            }
            Assert.NotEqual(answers[1].Value.Content[0].Text, answers[2].Value.Content[0].Text);

            var unknown = await Assert.ThrowsAsync<ClientResultException>(() => s.OpenAI.GetChatClient("tiny-bamba:c").CompleteChatAsync(conversation, options));
            Assert.Equal(404, unknown.Status);
            Assert.Contains("'tiny-bamba:c' does not exist", unknown.Message);
        }
        finally { foreach (var m in singles) m.Dispose(); }
    }

    [Fact]
    public void AdapterNamesMustBeUniqueAndNotTheModelsOwn()
    {
        var (a, b) = TwoAdapters("tiny-bamba");
        var config = BambaConfigReader.Load(Fixtures.Model("tiny-bamba"));
        var deltas = LoraFiles.ReadDeltas(a, config);
        foreach (var (names, message) in new[] { (new[] { "x", "x" }, "two LoRA adapters are named 'x'"), (["tiny-bamba"], "the served model's own name") })
        {
            var model = BambaModel.Load(Fixtures.Model("tiny-bamba"), new ModelAdapters(null, names.Select(n => new NamedAdapter(n, deltas)).ToArray()));
            var e = Assert.Throws<BambaException>(() => new ServingEngine(model, null, TestServer.DefaultOptions, TestServer.ModelId));
            Assert.Contains(message, e.Message);
            model.Dispose();
        }
    }

    [Fact]
    public void ServeLoraReadsNameEqualsDirAndOneSharedDir()
    {
        string shared = Path.Combine(_dir, "odd=name"); // an existing directory whose name has '=' is a DIR
        Directory.CreateDirectory(shared);
        var (dir, picked) = Bamba.Cli.ModelOptions.ParseAdapters(["sql=adapters/sql", shared, "chat.v2=x=y"]);
        Assert.Equal(shared, dir);
        Assert.Equal([new("sql", "adapters/sql"), new Bamba.Backends.AdapterPath("chat.v2", "x=y")], picked);
    }

    [Theory]
    [InlineData(new[] { "--lora", "a=x", "--lora", "a=y" }, "--lora: two adapters are named 'a'")]
    [InlineData(new[] { "--lora", "x", "--lora", "y" }, "both apply to every request")]
    [InlineData(new[] { "--lora", "a:b=x" }, "the adapter name 'a:b' must be letters, digits")]
    [InlineData(new[] { "--lora", "a=" }, "no adapter directory after '='")]
    [InlineData(new[] { "--lora", "a=/nonexistent/adapter" }, "adapter_config.json: not found")]
    public void ServeRefusesBadLoraFlagsInOneLine(string[] flags, string message)
    {
        var r = Bamba.Tests.Cli.CliRunner.Run(["serve", "--model", Fixtures.Model("tiny-bamba"), "--port", "0", .. flags]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void ServeLoadsNamedAndSharedAdaptersBeforeListening()
    {
        var (a, b) = TwoAdapters("tiny-bamba");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        string port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString();
        string[] serve = ["serve", "--model", Fixtures.Model("tiny-bamba"), "--port", port];
        // The model loads with every adapter and the engine accepts their names: the run gets as far as the port.
        Bamba.Tests.Cli.CliRunner.AssertUserError(Bamba.Tests.Cli.CliRunner.Run([.. serve, "--lora", $"a={a}", "--lora", $"b={b}", "--lora", a]),
            $"cannot listen on 127.0.0.1:{port}");
        Bamba.Tests.Cli.CliRunner.AssertUserError(Bamba.Tests.Cli.CliRunner.Run([.. serve, "--lora", $"tiny-bamba={a}"]), "the served model's own name");
    }
}

using Bamba.Backends;
using Bamba.Benchmarks;
using Bamba.Cli.Bench;
using Bamba.Cli.Output;
using Bamba.Configuration;
using Bamba.Generation.Constraints;
using Bamba.Server;
using Bamba.Serving;
using Bamba.Weights;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba bench-serve (--model DIR | --preset cpu-0.5b|bamba-9b | --url URL --served-model NAME --vocab N) [--device ...]
/// [--requests N] [--concurrency 1,8,32] [--prompt-tokens N] [--max-tokens N] [--max-batch N] [--format table|json]</c>:
/// throughput and latency of the OpenAI server under fixed concurrent loads, each level beside concurrency 1's
/// throughput measured in the same run. Without --url the server runs in this process on a free loopback port.
/// </summary>
internal sealed class BenchServeCommand : ICommand
{
    public string Name => "bench-serve";
    public string Summary => "load-test the OpenAI server: throughput, time to first token, inter-token latency";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("model", "serve this model directory in process", "DIR"),
        new("preset", "serve a synthetic model in process", "cpu-0.5b|bamba-9b", "cpu-0.5b"),
        new("url", "load-test a running OpenAI-compatible server instead", "URL"),
        new("served-model", "with --url: the model id to send", "NAME"),
        new("vocab", "with --url: the vocabulary size random prompt ids are drawn from", "N", "512"),
        new("workload", "random: independent random prompts at each concurrency level; multiturn: chat conversations replayed turn by turn (time to first token per turn, with and without the prefix cache); schema: --requests at once with and without a 30-property JSON schema (decode tok/s of each, in process)", "random|multiturn|schema", "random"),
        new("tokenizer", "schema: the tokenizer whose vocabulary the grammar's masks cover (a preset has none)", "DIR", "the model's"),
        new("conversations", "multiturn: conversations replayed at once", "N", "4"),
        new("turns", "multiturn: turns per conversation", "N", "4"),
        new("user-tokens", "multiturn: tokens of each new user message, drawn between MIN and MAX", "MIN-MAX", "32-64"),
        new("requests", "requests per concurrency level", "N", "64"),
        new("concurrency", "the concurrency levels, comma-separated", "1,8,32", "1,8,32"),
        new("prompt-tokens", "prompt tokens per request (multiturn: of the system prompt all conversations share)", "N", "64"),
        new("max-tokens", "output tokens per request (multiturn: per reply)", "N", "32"),
        .. ServeCommand.SchedulingFlags,
        new("format", "a table, or one JSON object per level", "table|json", "table"),
        LiveOutput.NoProgress,
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba bench-serve --model models/default --requests 32 --concurrency 1,4",
        "bamba bench-serve --url http://127.0.0.1:8000 --served-model default --vocab 4096",
        "bamba bench-serve --model models/default --workload multiturn --conversations 4 --turns 4 --prompt-tokens 256 --user-tokens 32-64 --max-tokens 16",
        "bamba bench-serve --preset bamba-9b --device cuda --tokenizer DIR --workload schema --requests 64 --max-batch 64 --max-tokens 128",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        switch (args.Choice("workload", "random", "random", "multiturn", "schema"))
        {
            case "multiturn": return MultiTurn(args, stdout);
            case "schema": return Schema(args, stdout);
        }
        int requests = args.Int("requests", 64, 1);
        var levels = CommandLine.ParseIds("concurrency", args.String("concurrency") ?? "1,8,32");
        int promptTokens = args.Int("prompt-tokens", 64, 1);
        int maxTokens = args.Int("max-tokens", 32, 1);
        string format = args.Choice("format", "table", "table", "json");
        bool live = LiveOutput.Enabled(args);
        if (levels.Any(c => c < 1)) throw new BambaException("--concurrency: levels must be ≥ 1");
        var load = new Load(requests, levels, promptTokens, maxTokens, live);
        return args.String("url") is { } url
            ? Report(RunRemote(args, url, load), format, stdout, url)
            : RunLocal(args, load, format, stdout);
    }

    /// <summary>What to send at each level, and whether to show live progress.</summary>
    private sealed record Load(int Requests, int[] Levels, int PromptTokens, int MaxTokens, bool Live);

    private static List<ServeLoadResult> RunRemote(CommandLine args, string url, Load load)
    {
        string model = args.Required("served-model");
        int vocab = args.Int("vocab", 512, 4);
        args.EnsureAllUsed();
        return LiveOutput.Status(load.Live, "bench-serve", progress => Measure(new Uri(url.TrimEnd('/') + "/"), model, vocab, load, progress));
    }

    private static int RunLocal(CommandLine args, Load load, string format, TextWriter stdout)
    {
        var (dir, preset, temp) = ModelDirectory(args, load.Live);
        try
        {
            var scheduling = ServeCommand.Scheduling(args);
            scheduling = scheduling with { MaxContext = Math.Max(load.PromptTokens + load.MaxTokens, scheduling.MaxContext) };
            var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
            var precision = ModelOptions.Precision(args);
            args.EnsureAllUsed();
            using var engine = ServingEngine.ForModel(ModelFactory.Load(dir, device, precision), dir, scheduling, preset);
            return InServer(engine, address =>
            {
                var results = LiveOutput.Status(load.Live, "bench-serve", progress =>
                    Measure(address, engine.ModelId, engine.Model.Tokens.VocabSize, load, progress));
                return Report(results, format, stdout, $"{engine.ModelId} in process, --max-batch {scheduling.MaxBatch}, --prefill-chunk {scheduling.PrefillChunk}");
            });
        }
        finally
        {
            if (temp is not null) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// --model's directory, or without it the --preset synthetic model written to a temporary folder (random bf16
    /// weights) that the caller deletes.
    /// </summary>
    private static (string Dir, string? Preset, string? Temp) ModelDirectory(CommandLine args, bool live)
    {
        if (args.Has("model")) return (args.Required("model"), null, null);
        string preset = args.Choice("preset", "cpu-0.5b", "cpu-0.5b", "bamba-9b");
        string temp = Directory.CreateTempSubdirectory("bamba-bench-serve-").FullName;
        LiveOutput.Status(live, "bench-serve", progress =>
        {
            progress.Report($"writing the {preset} synthetic model (random bf16 weights) to {temp}");
            SyntheticModel.Write(preset == "bamba-9b" ? Bamba9BShape : SyntheticModel.Cpu05B, temp, DType.BF16);
            return 0;
        });
        return (temp, preset, temp);
    }

    /// <summary>Serves <paramref name="engine"/> on a free loopback port while <paramref name="measure"/> runs (no per-request
    /// log lines: stderr is the benchmark's progress).</summary>
    private static T InServer<T>(ServingEngine engine, Func<Uri, T> measure)
    {
        var server = BambaServer.StartAsync(engine, new ServerOptions { Port = 0, LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning }).GetAwaiter().GetResult();
        try { return measure(server.Address); }
        finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>
    /// --workload multiturn: the conversations replayed against a server at --url, or in process twice, with the prefix
    /// cache (as the flags set it) and without, each on a fresh server. The model runs without its tokenizer, so
    /// replies come back as ids that the next turn sends back.
    /// </summary>
    private static int MultiTurn(CommandLine args, TextWriter stdout)
    {
        var shape = new MultiTurnShape(args.Int("conversations", 4, 1), args.Int("turns", 4, 1), args.Int("prompt-tokens", 64, 1),
            0, 0, args.Int("max-tokens", 32, 1));
        var user = (args.String("user-tokens") ?? "32-64").Split('-');
        if (user.Length != 2 || !int.TryParse(user[0], out int lo) || !int.TryParse(user[1], out int hi) || lo < 1 || hi < lo)
            throw new BambaException($"--user-tokens expects MIN-MAX with 1 ≤ MIN ≤ MAX, got '{args.String("user-tokens")}'");
        shape = shape with { UserMin = lo, UserMax = hi };
        string format = args.Choice("format", "table", "table", "json");
        bool live = LiveOutput.Enabled(args); // the replay itself prints no live progress; writing a preset does
        int longest = shape.SystemTokens + shape.Turns * (hi + shape.ReplyTokens);
        List<MultiTurnResult> results;
        string what;
        if (args.String("url") is { } url)
        {
            string served = args.Required("served-model");
            int vocab = args.Int("vocab", 512, 4);
            args.EnsureAllUsed();
            using var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(30) };
            results = [new MultiTurnLoad(http, served, vocab, shape).RunAsync("server", () => (0, 0)).GetAwaiter().GetResult()];
            what = url;
        }
        else
        {
            var (dir, preset, temp) = ModelDirectory(args, live);
            try
            {
                var scheduling = ServeCommand.Scheduling(args);
                scheduling = scheduling with { MaxContext = Math.Max(longest, scheduling.MaxContext) };
                var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
                var precision = ModelOptions.Precision(args);
                args.EnsureAllUsed();
                results = [.. new[] { ("prefix cache", scheduling), ("no cache", scheduling with { PrefixCacheBytes = 0 }) }
                    .Select(run => ReplayInProcess(dir, device, precision, run.Item1, run.Item2, shape))];
                what = $"{preset ?? dir} in process, --max-batch {scheduling.MaxBatch}, --prefill-chunk {scheduling.PrefillChunk}";
            }
            finally
            {
                if (temp is not null) Directory.Delete(temp, recursive: true);
            }
        }
        return ReportMultiTurn(results, shape, format, stdout, what);
    }

    /// <summary>The conversations replayed once against a fresh in-process server with <paramref name="options"/>.</summary>
    private static MultiTurnResult ReplayInProcess(string dir, ComputeDevice device, Backends.Cuda.CudaPrecision precision, string label,
        Generation.Scheduling.SchedulerOptions options, MultiTurnShape shape)
    {
        using var engine = new ServingEngine(ModelFactory.Load(dir, device, precision), null, options, "bench");
        var m = engine.Scheduler.Metrics;
        return InServer(engine, address =>
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(30) };
            var load = new MultiTurnLoad(http, engine.ModelId, engine.Model.Tokens.VocabSize, shape);
            // Warm-up (JIT, first touch of the weights) with a prompt of several chunks, so prefill's code is warm too.
            var warmUp = Enumerable.Range(0, 3 * options.PrefillChunk).Select(i => 3 + i % (engine.Model.Tokens.VocabSize - 3)).ToArray();
            new ServeLoad(http, engine.ModelId, 0, 4, engine.Model.Tokens.VocabSize).OneAsync(warmUp).GetAwaiter().GetResult();
            Console.Error.WriteLine($"bench-serve: {shape.Conversations} conversations of {shape.Turns} turns, {label}");
            return load.RunAsync(label, () => (m.PrefixHitTokens, m.PrefixMissTokens)).GetAwaiter().GetResult();
        });
    }

    private static int ReportMultiTurn(List<MultiTurnResult> results, MultiTurnShape shape, string format, TextWriter stdout, string what)
    {
        if (format == "json") foreach (var r in results) stdout.WriteLine(JsonLines.Write(r));
        else
        {
            stdout.WriteLine($"server: {what}; {shape.Conversations} conversations x {shape.Turns} turns, system prompt {shape.SystemTokens} tokens, " +
                             $"user messages {shape.UserMin}-{shape.UserMax}, replies {shape.ReplyTokens}");
            stdout.WriteLine("turn  prompt tokens  " + string.Join("  ", results.Select(r => $"TTFT mean/p50 (ms) {r.Label,-12}")) + (results.Count == 2 ? "  cached/uncached" : ""));
            for (int t = 0; t < shape.Turns; t++)
                stdout.WriteLine($"{t + 1,4}  {results[0].PromptTokensMean[t],13}  " + string.Join("  ", results.Select(r => $"{Ms(r.TtftMean[t]),14}/{Ms(r.TtftP50[t]),-16}")) +
                                 (results.Count == 2 ? $"  {results[0].TtftMean[t] / results[1].TtftMean[t],15:F3}" : ""));
            foreach (var r in results)
            {
                long prompt = r.CacheHitTokens + r.CacheMissTokens;
                stdout.WriteLine($"{r.Label}: {r.OutputTokensPerSecond:F2} output tok/s over {r.WallSeconds:F1} s; prompt tokens from the cache {r.CacheHitTokens} of " +
                                 $"{prompt} ({100.0 * r.CacheHitTokens / Math.Max(1, prompt):F1} %" +
                                 (prompt > 0 ? $"; at most {100 * r.CacheableShare(prompt):F1} % could be: the rest appear for the first time" : "") +
                                 $"); failed conversations {r.Failed}");
            }
        }
        return results.Any(r => r.Failed > 0) ? 1 : 0;
    }

    /// <summary>
    /// --workload schema, in process only: a warm-up pass of --requests at once (the batch's first GEMMs and graphs), then
    /// --requests at once plain, twice under the 30-property schema of <see cref="ConstrainedDecodingBenchmark"/> (the
    /// first pass computes the grammar states' masks as they appear, the second finds them cached, as a server does after
    /// its first requests with a schema), and plain again. The ratio of decode tok/s, the cached schema pass over the
    /// faster plain pass, is the issue's target (≥ 0.95 at batch 64); the plain pass on each side keeps drift in the
    /// machine from favouring either.
    /// </summary>
    private static int Schema(CommandLine args, TextWriter stdout)
    {
        if (args.Has("url")) throw new BambaException("--workload schema runs in process (it times the server's own scheduler); leave out --url");
        int requests = args.Int("requests", 64, 1), promptTokens = args.Int("prompt-tokens", 64, 1), maxTokens = args.Int("max-tokens", 32, 1);
        string format = args.Choice("format", "table", "table", "json");
        bool live = LiveOutput.Enabled(args);
        var scheduling = ServeCommand.Scheduling(args);
        if (scheduling.MaxBatch < requests)
            throw new BambaException($"--workload schema sends its {requests} requests at once: --max-batch must be at least {requests} (it is {scheduling.MaxBatch})");
        scheduling = scheduling with { MaxContext = Math.Max(promptTokens + maxTokens, scheduling.MaxContext) };
        var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
        var precision = ModelOptions.Precision(args);
        string? tokenizer = args.String("tokenizer");
        var (dir, preset, temp) = ModelDirectory(args, live);
        try
        {
            args.EnsureAllUsed();
            var text = TextCodecs.Load(tokenizer ?? dir) ?? throw new BambaException(
                $"--workload schema needs a tokenizer for the grammar's masks: {tokenizer ?? dir} has no tokenizer.json (give --tokenizer DIR)");
            using var engine = new ServingEngine(ModelFactory.Load(dir, device, precision), text, scheduling, preset ?? "bench");
            var grammar = engine.Grammars.Schema(ConstrainedDecodingBenchmark.Schema());
            var load = new SchemaLoad(engine.Scheduler, promptTokens, maxTokens);
            var results = LiveOutput.Status(live, "bench-serve", progress =>
            {
                progress.Report("warming up");
                load.RunAsync("warm-up", 0, requests, null).GetAwaiter().GetResult();
                return new[] { ("plain", (TokenGrammar?)null), ("schema, first", grammar), ("schema", grammar), ("plain, again", null) }.Select((run, pass) =>
                {
                    progress.Report($"{requests} requests at once: {run.Item1}");
                    return load.RunAsync(run.Item1, pass + 1, requests, run.Item2).GetAwaiter().GetResult();
                }).ToList();
            });
            return ReportSchema(results, format, stdout, $"{preset ?? dir} in process, --max-batch {scheduling.MaxBatch}; tokenizer {tokenizer ?? dir}");
        }
        finally
        {
            if (temp is not null) Directory.Delete(temp, recursive: true);
        }
    }

    private static int ReportSchema(List<SchemaLoadResult> results, string format, TextWriter stdout, string what)
    {
        if (format == "json")
        {
            foreach (var r in results) stdout.WriteLine(JsonLines.Write(r));
            return 0;
        }
        var plain = results.Where(r => r.Label.StartsWith("plain", StringComparison.Ordinal)).MaxBy(r => r.DecodeTokensPerSecond)!;
        var warm = results.Single(r => r.Label == "schema");
        stdout.WriteLine($"server: {what}; {plain.Requests} requests at once, {plain.OutputTokens / plain.Requests} output tokens each, temperature 1; " +
                         $"schema of {ConstrainedDecodingBenchmark.Properties} properties");
        ResultTable.Write(stdout, ["run", "out tok/s", "decode tok/s", "decode ms/step", "decode steps", "documents completed"],
            results.Select(r => new[] { r.Label, $"{r.OutputTokensPerSecond:F1}", $"{r.DecodeTokensPerSecond:F1}", $"{r.DecodeMsPerStep:F2}", $"{r.DecodeSteps}", $"{r.CompletedDocuments}" }));
        double ratio = warm.DecodeTokensPerSecond / plain.DecodeTokensPerSecond;
        string change = ratio <= 1 ? $"{(1 - ratio) * 100:F1} % slower" : $"{(ratio - 1) * 100:F1} % faster";
        stdout.WriteLine($"schema / faster plain decode tok/s: {ratio:F3} ({change}; the target is at most 5 % slower)");
        return 0;
    }

    /// <summary>IBM's Bamba-9B shape (docs: DESIGN.md): 32 layers, attention at 9/18/27, 9.78 B parameters.</summary>
    private static BambaConfig Bamba9BShape => new()
    {
        VocabSize = 128256, HiddenSize = 4096, IntermediateSize = 14336, NumHiddenLayers = 32,
        NumAttentionHeads = 32, NumKeyValueHeads = 8, AttnLayerIndices = [9, 18, 27],
        MambaNHeads = 128, MambaDHead = 64, MambaDState = 128, MambaNGroups = 1, MambaChunkSize = 256, Dtype = "bfloat16",
        MaxPositionEmbeddings = 4096,
    };

    private static List<ServeLoadResult> Measure(Uri server, string model, int vocab, Load load, IProgress<string> progress)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(30) };
        var client = new ServeLoad(http, model, load.PromptTokens, load.MaxTokens, vocab);
        progress.Report("warming up");
        client.RunAsync(Math.Min(4, load.Requests), 1).GetAwaiter().GetResult(); // warm-up: JIT and first-touch of the weights
        return load.Levels.Select(c =>
        {
            progress.Report($"{load.Requests} requests at concurrency {c}");
            return client.RunAsync(load.Requests, c).GetAwaiter().GetResult();
        }).ToList();
    }

    private static int Report(List<ServeLoadResult> results, string format, TextWriter stdout, string what)
    {
        if (format == "json")
        {
            foreach (var r in results) stdout.WriteLine(JsonLines.Write(r));
            return results.Any(r => r.Failed > 0) ? 1 : 0;
        }
        double baseline = results.FirstOrDefault(r => r.Concurrency == 1)?.OutputTokensPerSecond ?? double.NaN;
        stdout.WriteLine($"server: {what}; {results[0].Requests} requests per level, {results[0].PromptTokens / Math.Max(1, results[0].Requests)} prompt tokens, " +
                         $"{results[0].OutputTokens / Math.Max(1, results[0].Requests)} output tokens each");
        ResultTable.Write(stdout,
            ["concurrency", "req/s", "out tok/s", "×conc.1", "TTFT p50/p90/p99 (ms)", "ITL p50/p90/p99 (ms)", "latency p50/p90 (s)", "failed"],
            results.Select(r => new[]
            {
                $"{r.Concurrency}", $"{r.RequestsPerSecond:F2}", $"{r.OutputTokensPerSecond:F1}", $"{r.OutputTokensPerSecond / baseline:F2}",
                $"{Ms(r.TtftP50)}/{Ms(r.TtftP90)}/{Ms(r.TtftP99)}", $"{Ms(r.ItlP50)}/{Ms(r.ItlP90)}/{Ms(r.ItlP99)}",
                $"{r.LatencyP50:F2}/{r.LatencyP90:F2}", $"{r.Failed}",
            }));
        return results.Any(r => r.Failed > 0) ? 1 : 0;
    }

    private static string Ms(double seconds) => (seconds * 1000).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}

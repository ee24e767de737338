using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Server;
using Bamba.Serving;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba serve --model DIR [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--cors-origin ORIGIN]... [--log-level LEVEL]
/// [--max-batch N] [--max-context T]
/// [--max-queue N] [--prefill-chunk N] [--prefix-cache-gb GB | --no-prefix-cache] [--served-model-name NAME]
/// [--device cpu|cuda|auto]</c>: the OpenAI-compatible server
/// until Ctrl+C.
/// </summary>
internal sealed class ServeCommand : ICommand
{
    public string Name => "serve";
    public string Summary => "serve the model over an OpenAI-compatible HTTP API (continuous batching)";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.ServeLora,
        Output.LiveOutput.NoProgress,
        new("host", "the address to bind (0.0.0.0 exposes the model to the network)", "ADDRESS", "127.0.0.1"),
        new("port", "the TCP port (0 picks a free one, printed at start)", "PORT", "8000"),
        new("api-key", "require 'Authorization: Bearer KEY' on /v1/* (also BAMBA_API_KEY)", "KEY"),
        Flag.Repeated("cors-origin", "let web pages from ORIGIN (scheme://host[:port], or *) call the API; repeatable", "ORIGIN"),
        new("log-level", "the least severe log lines written to stderr: debug, info (one line per request), warning, error or none", "LEVEL", "info"),
        .. SchedulingFlags,
        new("served-model-name", "the id clients send as model", "NAME", "the model directory's name"),
        ModelOptions.ChatTemplate,
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba serve --model models/default",
        "bamba serve --model DIR --host 0.0.0.0 --port 8080 --api-key secret --device cuda",
        "bamba serve --model DIR --lora sql=adapters/sql --lora chat=adapters/chat",
    ];

    private static readonly Dictionary<string, Microsoft.Extensions.Logging.LogLevel> LogLevels = new()
    {
        ["debug"] = Microsoft.Extensions.Logging.LogLevel.Debug,
        ["info"] = Microsoft.Extensions.Logging.LogLevel.Information,
        ["warning"] = Microsoft.Extensions.Logging.LogLevel.Warning,
        ["error"] = Microsoft.Extensions.Logging.LogLevel.Error,
        ["none"] = Microsoft.Extensions.Logging.LogLevel.None,
    };

    /// <summary>The continuous-batching scheduler's flags, shared with bench-serve.</summary>
    internal static readonly Flag[] SchedulingFlags =
    [
        new("max-batch", "sequences running at once (on a GPU: sized from free memory unless given)", "N", "16 on the CPU"),
        new("max-context", "the longest sequence (prompt + max_tokens) a request may ask for", "T", "4096"),
        new("max-queue", "requests waiting for a slot; one more gets 429", "N", "256"),
        new("prefill-chunk", "prompt tokens one sequence feeds per step (chunked prefill); also the prefix cache's grid", "N", "256"),
        new("max-step-tokens", "tokens one step feeds: a token per decoding sequence, then whole prompt chunks (more clears a burst of prompts sooner and lengthens the steps it shares)", "N", "max-batch + prefill-chunk"),
        new("prefix-cache-gb", "memory for the prefix cache (state snapshots and KV of earlier prompts and replies)", "GB", "CPU: 1/8 of memory, at most 8; GPU: 1/4 of free device memory"),
        Flag.Switch("no-prefix-cache", "turn the prefix cache off (every prompt is computed from its first token)"),
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = ModelOptions.Directory(args);
        var server = new ServerOptions
        {
            Host = args.String("host") ?? "127.0.0.1",
            Port = args.Int("port", 8000, 0),
            ApiKey = args.String("api-key") ?? Environment.GetEnvironmentVariable("BAMBA_API_KEY"),
            CorsOrigins = args.Strings("cors-origin"),
            LogLevel = LogLevels[args.Choice("log-level", "info", [.. LogLevels.Keys])],
        };
        server.Validate(); // before the model loads
        var scheduling = Scheduling(args);
        bool maxBatchGiven = args.Has("max-batch"), prefixGiven = args.Has("prefix-cache-gb"), stepGiven = args.Has("max-step-tokens");
        string? name = args.String("served-model-name");
        string? chatTemplate = ModelOptions.ChatTemplateSource(args);
        var load = ModelOptions.ServingModel(args);
        args.EnsureAllUsed();

        var model = load();
        using var engine = ServingEngine.ForModel(model, dir, SizedFor(model, scheduling, maxBatchGiven, stepGiven, prefixGiven, stdout), name, chatTemplate);
        return RunAsync(engine, server, stdout).GetAwaiter().GetResult();
    }

    /// <summary>
    /// On a GPU, the slots (unless --max-batch fixes them), the step's tokens (unless --max-step-tokens fixes them), the KV
    /// budget and (unless --prefix-cache-gb sets it) the prefix cache's budget from the device memory left after the
    /// weights (<see cref="MemoryPlan"/>), printed; on the CPU, the options as given.
    /// </summary>
    private static SchedulerOptions SizedFor(ISequenceModel model, SchedulerOptions options, bool maxBatchGiven, bool stepGiven, bool prefixGiven,
        TextWriter stdout)
    {
        if (model is not IDeviceMemory device) return options;
        try
        {
            var memory = device.Memory();
            if (!prefixGiven && options.PrefixCacheBytes > 0) options = options with { PrefixCacheBytes = MemoryPlan.DefaultPrefixCacheBytes(memory) };
            var plan = MemoryPlan.Size(memory, options, maxBatchGiven ? options.MaxBatch : null, stepGiven ? options.MaxStepTokens : null);
            stdout.WriteLine($"bamba serve: {device.DeviceName}: {plan.Summary()}");
            return plan.Options;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    internal static SchedulerOptions Scheduling(CommandLine args)
    {
        int maxBatch = args.Int("max-batch", 16, 1);
        int chunk = args.Int("prefill-chunk", 256, 1);
        var options = new SchedulerOptions
        {
            MaxBatch = maxBatch,
            MaxContext = args.Int("max-context", 4096, 2),
            MaxQueue = args.Int("max-queue", 256, 0),
            PrefillChunk = chunk,
            MaxStepTokens = args.Has("max-step-tokens") ? args.Int("max-step-tokens", 0, 1) : (int)Math.Min(int.MaxValue, Math.Max(chunk, (long)maxBatch + chunk)),
            PrefixCacheBytes = PrefixCacheBytes(args),
        };
        options.Validate();
        return options;
    }

    /// <summary>--prefix-cache-gb, or by default an eighth of the memory the runtime may use (at most 8 GB; on a GPU,
    /// <see cref="SizedFor"/> replaces it with a share of the device memory); 0 when off.</summary>
    private static long PrefixCacheBytes(CommandLine args)
    {
        bool off = args.Switch("no-prefix-cache");
        if (off && args.Has("prefix-cache-gb")) throw new BambaException("--prefix-cache-gb and --no-prefix-cache contradict each other");
        if (off) return 0;
        if (!args.Has("prefix-cache-gb")) return Math.Min(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8, 8L << 30);
        return (long)(args.Float("prefix-cache-gb", 0, 0, 1 << 20) * (1L << 30));
    }

    private static async Task<int> RunAsync(ServingEngine engine, ServerOptions options, TextWriter stdout)
    {
        await using var server = await BambaServer.StartAsync(engine, options);
        stdout.WriteLine($"bamba serve: '{engine.ModelId}' at {server.Address} (OpenAPI: {server.Address}openapi/v1.json); Ctrl+C stops");
        if (!System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(server.Address.Host.Trim('[', ']'))) && options.ApiKey is null)
            Console.Error.WriteLine("bamba serve: warning: listening beyond this machine with no --api-key: anyone who can reach the port can use the model");
        stdout.Flush();
        await server.WaitForShutdownAsync();
        return 0;
    }
}

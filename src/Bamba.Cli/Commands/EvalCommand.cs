using System.Text;
using Bamba.Cli.Eval;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba eval --model DIR (--perplexity FILE.txt | --tasks FILE.jsonl) [--format table|json] [--url URL]</c>:
/// sliding-window perplexity of a text (per token and per byte), or multiple-choice log-likelihood tasks (acc and
/// acc_norm), on the model in this process or, with <c>--url</c>, on a running OpenAI-compatible server (the model
/// directory then only lends its tokenizer).
/// </summary>
internal sealed class EvalCommand : ICommand
{
    public string Name => "eval";
    public string Summary => "measure a model: perplexity of a text file, or multiple-choice tasks (acc, acc_norm)";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.Lora,
        Output.LiveOutput.NoProgress,
        new("perplexity", "a UTF-8 text file: its perplexity per token and per byte", "FILE.txt"),
        new("tasks", "{\"context\", \"choices\": [...], \"label\"} per line: log-likelihood accuracy", "FILE.jsonl"),
        new("context", "perplexity window in tokens", "N", "1024"),
        new("stride", "perplexity: a new window every N tokens", "N", "context/2"),
        new("format", "table or json", "table|json", "table"),
        new("batch-size", "tasks: context+choice sequences scored per forward pass (or per server request)", "N", "8"),
        new("url", "score on a running OpenAI-compatible server (/v1/completions with echo and logprobs) instead of loading the model; --model then only gives the tokenizer", "URL"),
        new("served-model", "with --url: the model (or MODEL:ADAPTER) to ask for", "NAME", "the first in the server's /v1/models"),
        new("api-key", "with --url: sent as 'Authorization: Bearer KEY' (also BAMBA_API_KEY)", "KEY"),
        new("timeout", "with --url: seconds to wait for each answer", "S", "600"),
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba eval --model models/default --perplexity held-out.txt",
        "bamba eval --model models/default --tasks riddles.jsonl --format json",
        "bamba eval --model models/default --tasks riddles.jsonl --url http://127.0.0.1:8000 --served-model default:sql",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = args.Required("model");
        string format = args.Choice("format", "table", "table", "json");
        string? perplexity = args.String("perplexity"), tasks = args.String("tasks");
        if ((perplexity is null) == (tasks is null)) throw new BambaException("give exactly one of --perplexity FILE.txt or --tasks FILE.jsonl");
        int context = args.Int("context", 1024, min: 2);
        int stride = args.Int("stride", Math.Max(1, context / 2), min: 1);
        if (stride >= context) throw new BambaException($"--stride {stride} must be smaller than --context {context}");
        int batch = args.Int("batch-size", 8, min: 1);
        var connect = Remote(args);
        var load = connect is null ? ModelOptions.GenerationModel(args) : null;
        args.EnsureAllUsed();
        var tokenizer = ModelOptions.TryLoadTokenizer(dir) ?? throw new BambaException($"{dir}: no tokenizer.json (eval reads text)");
        if (perplexity is not null && !File.Exists(perplexity)) throw new BambaException($"{perplexity}: file not found");
        var items = tasks is null ? null : MultipleChoice.Read(tasks);
        using var model = load?.Invoke();
        using var server = connect?.Invoke();
        ITokenScorer scorer = server is not null ? server : new ModelScorer(model!);
        if (perplexity is not null)
        {
            string text = File.ReadAllText(perplexity, Encoding.UTF8);
            var report = Perplexity.Run(scorer, perplexity, tokenizer.Encode(text), Encoding.UTF8.GetByteCount(text), context, stride);
            stdout.WriteLine(format == "json"
                ? JsonLines.Write(PerplexityLine.Of(report))
                : $"| file | tokens | bytes | token ppl | byte ppl | bits/byte |\n| --- | ---: | ---: | ---: | ---: | ---: |\n" +
                  $"| {report.File} | {report.Tokens} | {report.Bytes} | {report.TokenPerplexity:F4} | {report.BytePerplexity:F4} | {report.BitsPerByte:F4} |");
            return 0;
        }
        var result = MultipleChoice.Run(scorer, tokenizer, tasks!, items!, batch);
        stdout.WriteLine(format == "json"
            ? JsonLines.Write(TasksLine.Of(result))
            : $"| tasks | items | acc | acc_norm |\n| --- | ---: | ---: | ---: |\n| {result.File} | {result.Items} | {result.Accuracy:F4} | {result.AccuracyNormalized:F4} |");
        return 0;
    }

    /// <summary>
    /// With <c>--url</c>, the server to score on (connected when called); null for the model in this process. The
    /// flags of a local model make no sense with it and are refused.
    /// </summary>
    private static Func<ServerScorer>? Remote(CommandLine args)
    {
        string? url = args.String("url");
        string? model = args.String("served-model"), key = args.String("api-key") ?? Environment.GetEnvironmentVariable("BAMBA_API_KEY");
        int timeout = args.Int("timeout", 600, min: 1);
        if (url is null)
        {
            foreach (var flag in new[] { "served-model", "api-key", "timeout" })
                if (args.Has(flag)) throw new BambaException($"--{flag} goes with --url");
            return null;
        }
        foreach (var flag in new[] { "lora", "device", "precision" })
            if (args.Has(flag)) throw new BambaException($"--{flag} sets up a local model; with --url the server runs the model (pick an adapter with --served-model MODEL:ADAPTER)");
        return () => ServerScorer.Connect(url, model, key, TimeSpan.FromSeconds(timeout));
    }
}

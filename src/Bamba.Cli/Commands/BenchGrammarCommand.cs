using Bamba.Benchmarks;
using Bamba.Cli.Output;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba bench-grammar --tokenizer DIR [--model DIR | --preset cpu-0.5b] [--batch 64] [--steps 32]
/// [--format table|json]</c>: the cost of constrained decoding (a 30-property JSON schema's token mask) per decode
/// step on the CPU, beside the model's own step time in the same run.
/// </summary>
internal sealed class BenchGrammarCommand : ICommand
{
    public string Name => "bench-grammar";
    public string Summary => "measure the per-token cost of JSON-schema constrained decoding against the decode step";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("tokenizer", "the tokenizer whose vocabulary the masks cover", "DIR"),
        new("model", "the model whose decode step the grammar is timed beside", "DIR"),
        new("preset", "instead of --model: a synthetic model of this shape", "cpu-0.5b", "cpu-0.5b"),
        new("batch", "sequences decoded at once", "N", "64"),
        new("steps", "decode steps timed", "N", "32"),
        new("format", "table or json", "table|json", "table"),
        LiveOutput.NoProgress,
    ];

    public IReadOnlyList<string> Examples { get; } =
        ["bamba bench-grammar --model models/default --tokenizer models/default --batch 64 --steps 64"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string tokenizer = args.Required("tokenizer");
        string? modelDir = args.String("model");
        string preset = args.Choice("preset", "cpu-0.5b", "cpu-0.5b");
        int batch = args.Int("batch", 64, 1);
        int steps = args.Int("steps", 32, 1);
        string format = args.Choice("format", "table", "table", "json");
        bool live = LiveOutput.Enabled(args);
        args.EnsureAllUsed();

        // In order and on the caller's thread (Progress<T> posted its lines to the thread pool).
        var r = LiveOutput.Status(live, "bench-grammar", progress =>
            Bench.CpuBenchModel.Measure(modelDir, preset, progress, (model, name) => ConstrainedDecodingBenchmark.Run(model, name, tokenizer, batch, steps, progress)));
        stdout.WriteLine(format == "json" ? JsonLines.Write(r) : Table(r));
        return 0;
    }

    private static string Table(ConstrainedDecodingResult r) => string.Join('\n',
        $"model            {r.Model} (vocab {r.Vocab}), tokenizer {r.Tokenizer}",
        $"batch × steps    {r.Batch} × {r.Steps}, schema of {r.SchemaProperties} properties; {r.CompletedDocuments} documents completed, {r.GrammarStates} grammar states",
        $"model step       {r.ModelMsPerStep,9:F2} ms",
        $"grammar, cached  {r.WarmGrammarMsPerStep,9:F2} ms per step ({r.WarmMicrosecondsPerToken:F1} µs per token): {r.WarmOverhead:P2} of the model step",
        $"grammar, first   {r.FirstPassGrammarMsPerStep,9:F2} ms per step (masks computed as states first appear)");
}

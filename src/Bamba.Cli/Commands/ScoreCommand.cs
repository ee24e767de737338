using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba score --model DIR --ids 1,2,3 [--format text|json] [--device cpu|cuda|auto] [--precision bf16|fp32]</c>: log p(ids[t] | ids[&lt;t]) for every t (the
/// first is null, as OpenAI's echo does), their total and the perplexity over the scored tokens.
/// </summary>
internal sealed class ScoreCommand : ICommand
{
    public string Name => "score";
    public string Summary => "log-likelihood and perplexity of a token sequence";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.Lora,
        Output.LiveOutput.NoProgress,
        new("ids", "the token ids to score, comma-separated (at least two)", "1,2,3"),
        new("format", "text: one line per position and the total; json: {token_logprobs, total_logprob, perplexity}", "text|json", "text"),
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } = ["bamba score --model models/default --ids 1,400,72,9 --format json"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string format = args.Choice("format", "text", "text", "json");
        using var model = ModelOptions.LoadForGeneration(args);
        var ids = CommandLine.ParseIds("ids", args.Required("ids"));
        args.EnsureAllUsed();
        if (ids.Length < 2) throw new BambaException("--ids: at least two tokens are needed to score anything");
        foreach (int id in ids)
            if (id >= model.Tokens.VocabSize) throw new BambaException($"token id {id} is outside the model's vocabulary (0..{model.Tokens.VocabSize - 1})");

        var logprobs = Score(model, ids);
        double total = logprobs.Skip(1).Sum(v => v!.Value);
        double perplexity = Math.Exp(-total / (ids.Length - 1));
        if (format == "json")
            stdout.WriteLine(JsonLines.Write(new ScoreLine(logprobs, total, perplexity)));
        else
        {
            for (int t = 0; t < ids.Length; t++)
                stdout.WriteLine($"{t,6} {ids[t],8} {(logprobs[t] is double v ? v.ToString("F6") : "-"),12}");
            stdout.WriteLine($"total log-prob {total:F6} over {ids.Length - 1} tokens, perplexity {perplexity:F4}");
        }
        return 0;
    }

    internal static double?[] Score(ISequenceModel model, int[] ids) => new Eval.ModelScorer(model).Score([ids])[0];
}

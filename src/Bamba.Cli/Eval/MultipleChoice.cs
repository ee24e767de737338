using System.Text;
using System.Text.Json.Nodes;
using Bamba.Tokenization;

namespace Bamba.Cli.Eval;

/// <summary>One multiple-choice item as lm-evaluation-harness writes it: a context, the choices, the right one.</summary>
internal sealed record ChoiceTask(string Context, string[] Choices, int Label);

/// <summary>Accuracy over the items, and per item the log-likelihood of every choice.</summary>
internal sealed record TasksReport(string File, int Items, double Accuracy, double AccuracyNormalized, IReadOnlyList<double[]> LogLikelihoods);

/// <summary>
/// Log-likelihood multiple choice: each choice is scored as the continuation of the context (the sum of its tokens'
/// log-probabilities). acc picks the largest sum, acc_norm the largest sum per byte of the choice's text, as
/// lm-evaluation-harness does.
/// </summary>
internal static class MultipleChoice
{
    public static List<ChoiceTask> Read(string path)
    {
        var tasks = new List<ChoiceTask>();
        foreach (var (line, obj) in JsonLines.Read(path))
        {
            string where = $"{path}:{line}";
            string context = obj["context"] is JsonValue c && c.TryGetValue(out string? s) ? s : throw new BambaException($"{where}: \"context\" must be a string");
            var choices = obj["choices"] is JsonArray a && a.Count >= 2
                ? a.Select(n => n is JsonValue v && v.TryGetValue(out string? t) ? t : throw new BambaException($"{where}: \"choices\" must be strings")).ToArray()
                : throw new BambaException($"{where}: \"choices\" must be a list of at least two strings");
            int label = obj["label"] is JsonValue l && l.TryGetValue(out int i) && i >= 0 && i < choices.Length ? i
                : throw new BambaException($"{where}: \"label\" must be the index of the right choice (0..{choices.Length - 1})");
            tasks.Add(new ChoiceTask(context, choices, label));
        }
        if (tasks.Count == 0) throw new BambaException($"{path}: no tasks");
        return tasks;
    }

    /// <summary>
    /// Scores every choice of every item, <paramref name="batch"/> context+choice sequences per scorer call (in file
    /// order, across items), so a forward pass (or a server request) covers several choices at once.
    /// </summary>
    public static TasksReport Run(ITokenScorer scorer, HfTokenizer tokenizer, string file, IReadOnlyList<ChoiceTask> tasks, int batch)
    {
        var sequences = new List<(int Item, int Context, int[] Ids)>();
        for (int item = 0; item < tasks.Count; item++)
        {
            var task = tasks[item];
            // An empty context still needs a token to predict the first choice token from: eos, as the harness uses.
            int[] context = task.Context.Length > 0 ? tokenizer.Encode(task.Context, addSpecialTokens: true)
                : [tokenizer.EosId ?? throw new BambaException($"{file}: an empty context needs the tokenizer's eos token")];
            foreach (var choice in task.Choices)
            {
                var continuation = tokenizer.Encode(choice);
                if (continuation.Length == 0) throw new BambaException($"{file}: a choice encodes to no tokens");
                sequences.Add((item, context.Length, [.. context, .. continuation]));
            }
        }
        var sums = new List<double>(sequences.Count);
        foreach (var chunk in sequences.Chunk(batch))
        {
            var logprobs = scorer.Score(chunk.Select(c => c.Ids).ToArray());
            for (int i = 0; i < chunk.Length; i++) sums.Add(logprobs[i].Skip(chunk[i].Context).Sum(v => v!.Value));
        }
        return Report(file, tasks, sums);
    }

    /// <summary>acc and acc_norm from each choice's log-likelihood, in file order.</summary>
    private static TasksReport Report(string file, IReadOnlyList<ChoiceTask> tasks, List<double> sums)
    {
        int right = 0, rightNormalized = 0, next = 0;
        var all = new List<double[]>();
        foreach (var task in tasks)
        {
            var scores = sums.GetRange(next, task.Choices.Length).ToArray();
            next += scores.Length;
            all.Add(scores);
            if (ArgMax(scores) == task.Label) right++;
            var normalized = scores.Select((s, i) => s / Math.Max(1, Encoding.UTF8.GetByteCount(task.Choices[i]))).ToArray();
            if (ArgMax(normalized) == task.Label) rightNormalized++;
        }
        return new TasksReport(file, tasks.Count, (double)right / tasks.Count, (double)rightNormalized / tasks.Count, all);
    }

    private static int ArgMax(double[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}

using System.Text.Json;
using Bamba.Tokenization;

namespace Bamba.Tests.Cli;

/// <summary>
/// <c>bamba eval</c> on the shipped model: perplexity against <c>bamba score</c> over the same tokens (one window),
/// sliding windows scoring every token once, per-byte figures from the same sum; multiple-choice log-likelihoods
/// against <c>score</c> of context + choice, acc and acc_norm from them; bad task lines.
/// </summary>
public sealed class EvalCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-eval-").FullName;
    private static readonly string Model = Path.Combine(Fixtures.RepositoryRoot, "models", "default");
    private const string Text = "Q: What has keys but cannot open locks?\nA: A piano.\n\nQ: What gets wetter as it dries?\nA: A towel.\n";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout.Trim()).RootElement;
    }

    private static double ScoreTotal(int[] ids) =>
        Json(CliRunner.Run("score", "--model", Model, "--ids", string.Join(",", ids), "--format", "json")).GetProperty("total_logprob").GetDouble();

    [Fact]
    public void PerplexityInOneWindowEqualsScoreAndSlidingWindowsScoreEveryTokenOnce()
    {
        string file = Path.Combine(_dir, "text.txt");
        File.WriteAllText(file, Text);
        var ids = HfTokenizer.Load(Model).Encode(Text);
        var whole = Json(CliRunner.Run("eval", "--model", Model, "--perplexity", file, "--context", "4096", "--format", "json"));
        double nll = whole.GetProperty("nll").GetDouble();
        Assert.Equal(-ScoreTotal(ids), nll, 1e-9 * nll);
        Assert.Equal(ids.Length - 1, whole.GetProperty("tokens").GetInt32());
        long bytes = System.Text.Encoding.UTF8.GetByteCount(Text);
        Assert.Equal(bytes, whole.GetProperty("bytes").GetInt64());
        Assert.Equal(nll / (Math.Log(2) * bytes), whole.GetProperty("bits_per_byte").GetDouble(), 1e-12);
        Assert.Equal(Math.Exp(nll / (ids.Length - 1)), whole.GetProperty("token_perplexity").GetDouble(), 1e-9);

        var sliding = Json(CliRunner.Run("eval", "--model", Model, "--perplexity", file, "--context", "8", "--stride", "3", "--format", "json"));
        Assert.Equal(ids.Length - 1, sliding.GetProperty("tokens").GetInt32());
        Assert.NotEqual(nll, sliding.GetProperty("nll").GetDouble()); // less context per token
        var table = CliRunner.Run("eval", "--model", Model, "--perplexity", file);
        Assert.Contains("| token ppl | byte ppl | bits/byte |", table.Stdout);
    }

    [Fact]
    public void MultipleChoiceScoresEachChoiceAsAContinuation()
    {
        string file = Path.Combine(_dir, "tasks.jsonl");
        File.WriteAllLines(file,
        [
            """{"context": "Q: What has keys but cannot open locks?\nA:", "choices": [" A piano.", " A towel.", " The moon."], "label": 0}""",
            """{"context": "Q: What gets wetter as it dries?\nA:", "choices": [" A piano.", " A towel."], "label": 1}""",
        ]);
        var report = Json(CliRunner.Run("eval", "--model", Model, "--tasks", file, "--format", "json"));
        var ll = report.GetProperty("loglikelihoods").EnumerateArray().Select(a => a.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        var tokenizer = HfTokenizer.Load(Model);
        var context = tokenizer.Encode("Q: What gets wetter as it dries?\nA:", addSpecialTokens: true);
        var choice = tokenizer.Encode(" A towel.");
        int[] all = [.. context, .. choice];
        double expected = Json(CliRunner.Run("score", "--model", Model, "--ids", string.Join(",", all), "--format", "json"))
            .GetProperty("token_logprobs").EnumerateArray().Skip(context.Length).Sum(v => v.GetDouble());
        Assert.Equal(expected, ll[1][1], 1e-9);
        int[] labels = [0, 1];
        double acc = ll.Select((s, i) => Array.IndexOf(s, s.Max()) == labels[i] ? 1.0 : 0.0).Average();
        Assert.Equal(acc, report.GetProperty("acc").GetDouble());
        Assert.Equal(2, report.GetProperty("items").GetInt32());
    }

    [Fact]
    public void ABadTaskLineIsOneLineWithItsNumber()
    {
        string file = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(file, ["""{"context": "a", "choices": ["b", "c"], "label": 0}""", """{"context": "a", "choices": ["b", "c"], "label": 5}"""]);
        var r = CliRunner.Run("eval", "--model", Model, "--tasks", file);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{file}:2: \"label\" must be the index of the right choice (0..1)", r.Stderr);
        Assert.Equal(2, CliRunner.Run("eval", "--model", Model).ExitCode); // neither --perplexity nor --tasks
    }
}

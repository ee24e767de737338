using System.Text.Json;
using Bamba.Generation;
using Bamba.Tests.Modeling;

namespace Bamba.Tests.Cli;

public sealed class GenerateAndScoreCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-cli-").FullName;
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void GreedyJsonOutputMatchesTheReference()
    {
        using var reference = new Reference("tiny-bamba");
        var greedy = reference.Json.GetProperty("greedy");
        var prompt = string.Join(",", Reference.Ints(greedy.GetProperty("prompt")));
        var expected = Reference.Ints(greedy.GetProperty("new_tokens"))[..10];

        var r = CliRunner.Run("generate", "--model", Tiny, "--prompt-ids", prompt, "--max-new-tokens", "10", "--temperature", "0", "--format", "json");

        Assert.Equal(0, r.ExitCode);
        var line = JsonDocument.Parse(r.Stdout.Trim()).RootElement;
        Assert.Equal(expected, Reference.Ints(line.GetProperty("token_ids")));
    }

    [Fact]
    public void InputFileRunsAsOneBatchInOrder()
    {
        using var reference = new Reference("tiny-bamba");
        var batch = reference.Json.GetProperty("greedy_batch_left_padded");
        var masks = batch.GetProperty("attention_mask").EnumerateArray().Select(Reference.Ints).ToArray();
        var prompts = batch.GetProperty("prompts").EnumerateArray().Select(Reference.Ints)
            .Select((p, i) => p.Where((_, t) => masks[i][t] == 1).ToArray()).ToArray();
        var expected = batch.GetProperty("new_tokens").EnumerateArray().Select(Reference.Ints).ToArray();
        string input = Path.Combine(_dir, "prompts.jsonl");
        File.WriteAllLines(input, prompts.Select(p => JsonSerializer.Serialize(new { prompt_ids = p })));

        // Greedy by default (generation_config has no do_sample); the fixture's EOS is id 2, absent from these rows' first 3 tokens.
        var r = CliRunner.Run("generate", "--model", Tiny, "--input", input, "--max-new-tokens", "3", "--format", "json");

        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Trim().Split('\n').Select(l => Reference.Ints(JsonDocument.Parse(l).RootElement.GetProperty("token_ids"))).ToArray();
        Assert.Equal([expected[0][..3], expected[1][..3]], lines);
    }

    [Fact]
    public void SeededSamplingIsReproducible()
    {
        string[] args = ["generate", "--model", Tiny, "--prompt-ids", "5,6,7", "--max-new-tokens", "12", "--temperature", "0.9", "--top-k", "40", "--top-p", "0.9", "--seed", "42"];
        var a = CliRunner.Run(args);
        var b = CliRunner.Run(args);
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Stdout, b.Stdout);
    }

    [Fact]
    public void ScoreMatchesReferenceLogits()
    {
        using var reference = new Reference("tiny-bamba");
        var ids = reference.Rows("single.input_ids")[0][..12];
        var logits = reference.Floats("single.logits");
        int vocab = 512;

        var r = CliRunner.Run("score", "--model", Tiny, "--ids", string.Join(",", ids), "--format", "json");

        Assert.Equal(0, r.ExitCode);
        var doc = JsonDocument.Parse(r.Stdout).RootElement;
        var lps = doc.GetProperty("token_logprobs").EnumerateArray().ToArray();
        Assert.Equal(JsonValueKind.Null, lps[0].ValueKind);
        double total = 0;
        for (int t = 1; t < ids.Length; t++)
        {
            double expected = Sampler.LogSoftmax(logits.AsSpan((t - 1) * vocab, vocab))[ids[t]];
            Assert.True(Math.Abs(expected - lps[t].GetDouble()) < 1e-4, $"token {t}: {lps[t]} vs {expected}");
            total += lps[t].GetDouble();
        }
        Assert.Equal(total, doc.GetProperty("total_logprob").GetDouble(), 9);
        Assert.Equal(Math.Exp(-total / (ids.Length - 1)), doc.GetProperty("perplexity").GetDouble(), 9);
    }

    [Fact]
    public void InfoDescribesTheModel()
    {
        var r = CliRunner.Run("info", "--model", Fixtures.Model("small-bamba"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("MMMAMMMA", r.Stdout);
        Assert.Contains("2,352,416", r.Stdout);
    }
}

public sealed class TextGenerateCliTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-text-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TextPromptIsEncodedWithBosAndTheOutputDecoded()
    {
        var tokenizer = Bamba.Tokenization.HfTokenizer.Load(_dir);
        var ids = tokenizer.Encode("the cat", addSpecialTokens: true);
        Assert.Equal(TextModel.Bos, ids[0]);

        var byIds = CliRunner.Run("generate", "--model", _dir, "--prompt-ids", string.Join(",", ids), "--max-new-tokens", "6", "--format", "json");
        var byText = CliRunner.Run("generate", "--model", _dir, "--prompt", "the cat", "--max-new-tokens", "6", "--format", "json");

        Assert.Equal(0, byText.ExitCode);
        var line = JsonDocument.Parse(byText.Stdout).RootElement;
        var generated = line.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(JsonDocument.Parse(byIds.Stdout).RootElement.GetProperty("token_ids").GetRawText(), line.GetProperty("token_ids").GetRawText());
        Assert.Equal(tokenizer.Decode(generated, skipSpecialTokens: true), line.GetProperty("text").GetString());
    }

    [Fact]
    public void StreamedTextEqualsTheDecodedBatchOutput()
    {
        var json = CliRunner.Run("generate", "--model", _dir, "--prompt", "the cat", "--max-new-tokens", "8", "--format", "json");
        var text = CliRunner.Run("generate", "--model", _dir, "--prompt", "the cat", "--max-new-tokens", "8");
        Assert.Equal(0, text.ExitCode);
        Assert.Equal(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("text").GetString() + "\n", text.Stdout);
    }

    [Fact]
    public void InputFileMixesTextAndIds()
    {
        string input = Path.Combine(_dir, "in.jsonl");
        File.WriteAllLines(input, ["{\"prompt\": \"the\"}", "{\"prompt_ids\": [300, 5, 6]}"]);
        var r = CliRunner.Run("generate", "--model", _dir, "--input", input, "--max-new-tokens", "3", "--format", "json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, r.Stdout.Trim().Split('\n').Length);
    }

    [Fact]
    public void TextPromptWithoutTokenizerIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", Fixtures.Model("tiny-bamba"), "--prompt", "hi"), "has no tokenizer.json");
}

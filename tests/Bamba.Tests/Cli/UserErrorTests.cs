namespace Bamba.Tests.Cli;

/// <summary>Every error a user can cause prints one line naming what is wrong and exits with 2.</summary>
public sealed class UserErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-err-").FullName;
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ModelCopy(Action<string>? damage = null)
    {
        foreach (var f in Directory.GetFiles(Tiny))
            if (!Path.GetFileName(f).StartsWith("reference")) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        damage?.Invoke(_dir);
        return _dir;
    }

    [Fact]
    public void MissingModelDirectory() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", "/no/such/model", "--prompt-ids", "1"), "/no/such/model: model directory not found");

    [Fact]
    public void MissingConfig() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d => File.Delete(Path.Combine(d, "config.json")))), "config.json: file not found");

    [Fact]
    public void BadConfigJson() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d => File.WriteAllText(Path.Combine(d, "config.json"), "{ oops"))), "not valid JSON");

    [Fact]
    public void WrongModelType() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d =>
            File.WriteAllText(Path.Combine(d, "config.json"), File.ReadAllText(Path.Combine(d, "config.json")).Replace("\"bamba\"", "\"mamba2\"")))), "model_type is 'mamba2'");

    [Fact]
    public void MissingWeights() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d => File.Delete(Path.Combine(d, "model.safetensors")))), "no model.safetensors");

    [Fact]
    public void TruncatedWeights() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", ModelCopy(d =>
        {
            string p = Path.Combine(d, "model.safetensors");
            var bytes = File.ReadAllBytes(p);
            File.WriteAllBytes(p, bytes[..(bytes.Length - 1000)]);
        }), "--prompt-ids", "1"), "truncated file");

    [Fact]
    public void MisShapedTensor() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d =>
            File.WriteAllText(Path.Combine(d, "config.json"), File.ReadAllText(Path.Combine(d, "config.json")).Replace("\"vocab_size\": 512", "\"vocab_size\": 500")))),
            "'model.embed_tokens.weight' has shape [512, 64], expected [500, 64]");

    [Fact]
    public void UnknownDtype() =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", ModelCopy(d =>
        {
            string p = Path.Combine(d, "model.safetensors");
            var bytes = File.ReadAllBytes(p);
            var text = System.Text.Encoding.Latin1.GetString(bytes);
            int at = text.IndexOf("\"F32\"", StringComparison.Ordinal);
            System.Text.Encoding.Latin1.GetBytes("\"I32\"").CopyTo(bytes, at);
            File.WriteAllBytes(p, bytes);
        })), "unsupported dtype I32");

    [Theory]
    [InlineData("--prompt-ids", "1,x,3", "'x' is not a token id")]
    [InlineData("--prompt-ids", "1,9999", "token id 9999 is outside the model's vocabulary")]
    [InlineData("--max-new-tokens", "0", "--max-new-tokens expects an integer ≥ 1")]
    [InlineData("--temperature", "-1", "--temperature expects a number")]
    [InlineData("--top-p", "1.5", "--top-p expects a number in [0, 1]")]
    [InlineData("--format", "xml", "--format must be one of text, json")]
    [InlineData("--bogus", "1", "unknown flag --bogus")]
    public void BadGenerateFlags(string flag, string value, string message)
    {
        var args = new List<string> { "generate", "--model", Tiny };
        if (flag != "--prompt-ids") args.AddRange(["--prompt-ids", "1,2"]);
        args.AddRange([flag, value]);
        CliRunner.AssertUserError(CliRunner.Run(args.ToArray()), message);
    }

    [Fact]
    public void PromptSourcesAreExclusive() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", Tiny, "--prompt-ids", "1", "--input", "x.jsonl"), "exactly one of");

    [Fact]
    public void MissingRequiredFlag() =>
        CliRunner.AssertUserError(CliRunner.Run("score", "--ids", "1,2"), "--model is required");

    [Fact]
    public void BadInputFileLine()
    {
        string input = Path.Combine(_dir, "in.jsonl");
        File.WriteAllLines(input, ["{\"prompt_ids\": [1, 2]}", "{\"prompt_ids\": [1,"]);
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", Tiny, "--input", input), "in.jsonl:2: not valid JSON");
    }

    [Fact]
    public void MissingInputFile() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", Tiny, "--input", Path.Combine(_dir, "none.jsonl")), "none.jsonl: file not found");

    [Fact]
    public void UnknownCommand()
    {
        var r = CliRunner.Run("frobnicate");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown command 'frobnicate'", r.Stderr);
    }

    [Fact]
    public void ScoreNeedsTwoTokens() =>
        CliRunner.AssertUserError(CliRunner.Run("score", "--model", Tiny, "--ids", "5"), "at least two tokens");
}

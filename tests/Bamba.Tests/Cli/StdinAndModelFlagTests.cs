namespace Bamba.Tests.Cli;

/// <summary>
/// <c>--input -</c> reads stdin wherever a command takes --input FILE (generate, tokenize, detokenize, bench-tokenize),
/// as the file would be read; tokenize and detokenize take <c>--model DIR</c> as every model command does.
/// </summary>
public sealed class StdinAndModelFlagTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-stdin-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>The command run on a file in process, and as a program reading the same lines from stdin.</summary>
    private void AssertStdinEqualsFile(string content, params string[] args)
    {
        var fromFile = CliRunner.Run([.. args, "--input", Write("input.jsonl", content)]);
        Assert.True(fromFile.ExitCode == 0, fromFile.Stderr);
        var fromStdin = CliProcess.Run([.. args, "--input", "-"], terminal: false, stdin: content);
        Assert.True(fromStdin.ExitCode == 0, fromStdin.Stderr);
        Assert.Equal(fromFile.Stdout, fromStdin.Stdout);
        Assert.NotEqual("", fromFile.Stdout);
    }

    [Fact]
    public void GenerateReadsPromptsFromStdin() =>
        AssertStdinEqualsFile("{\"prompt\": \"the\"}\n{\"prompt_ids\": [300, 5, 6]}\n",
            "generate", "--model", _dir, "--max-new-tokens", "3", "--format", "json");

    [Fact]
    public void TokenizeAndDetokenizeReadStdin()
    {
        AssertStdinEqualsFile("{\"text\": \"the theme\"}\n{\"text\": \"hi\"}\n", "tokenize", "--model", _dir);
        AssertStdinEqualsFile("{\"ids\": [300, 259, 5]}\n{\"ids\": [104, 105]}\n", "detokenize", "--model", _dir);
    }

    [Fact]
    public void BenchTokenizeMeasuresTheTextFromStdin()
    {
        const string text = "the theme of the thesis\nis the heat\n";
        var r = CliProcess.Run(["bench-tokenize", "--model", _dir, "--input", "-", "--megabytes", "1", "--format", "json"], terminal: false, stdin: text);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal("-", json.RootElement.GetProperty("Source").GetString());
        Assert.Equal(text.Length, json.RootElement.GetProperty("SourceBytes").GetInt64());
    }

    [Fact]
    public void ModelNamesTheTokenizerAsTokenizerDoes()
    {
        foreach (var args in new[] { new[] { "tokenize", "--text", "the theme", "--add-special-tokens" }, ["detokenize", "--text", "300,259,5"] })
        {
            var byModel = CliRunner.Run([.. args, "--model", _dir]);
            var byTokenizer = CliRunner.Run([.. args, "--tokenizer", _dir]);
            Assert.True(byModel.ExitCode == 0, byModel.Stderr);
            Assert.Equal(byTokenizer.Stdout, byModel.Stdout);
        }
        Assert.Equal("{\"ids\":[300,116,257,259,109,101]}", CliRunner.Run("tokenize", "--model", _dir, "--text", "the theme", "--add-special-tokens").Stdout.Trim());
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--model", _dir, "--tokenizer", _dir, "--text", "x"), "give either --tokenizer or --model, not both");
    }
}

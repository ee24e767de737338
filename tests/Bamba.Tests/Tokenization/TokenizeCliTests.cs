using System.Text.Json;
using Bamba.Tests.Cli;

namespace Bamba.Tests.Tokenization;

/// <summary><c>bamba tokenize</c> / <c>bamba detokenize</c>: JSON lines in, JSON lines out, same order; user errors.</summary>
public sealed class TokenizeCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-tokcli-").FullName;
    private static string Tok => TokenizerFixtures.Llama3Directory;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void TokenizeAndDetokenizeFilesRoundTripTheFixtureCases()
    {
        var cases = TokenizerFixtures.LoadLlama3Cases();
        var input = File("in.jsonl", string.Join("\n", cases.Select(c => JsonSerializer.Serialize(new { text = c.Text }))) + "\n");
        var tokenized = CliRunner.Run("tokenize", "--tokenizer", Tok, "--input", input);
        Assert.Equal(0, tokenized.ExitCode);
        var idLines = Lines(tokenized.Stdout);
        Assert.Equal(cases.Count, idLines.Length);
        for (int i = 0; i < cases.Count; i++)
            Assert.Equal(cases[i].Ids, JsonDocument.Parse(idLines[i]).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));

        var detokenized = CliRunner.Run("detokenize", "--tokenizer", Tok, "--input", File("ids.jsonl", tokenized.Stdout));
        Assert.Equal(0, detokenized.ExitCode);
        var textLines = Lines(detokenized.Stdout);
        Assert.Equal(cases.Count, textLines.Length);
        // A JSON parser gets exactly the decoded string back, non-ASCII and control characters included.
        for (int i = 0; i < cases.Count; i++)
            Assert.Equal(cases[i].Decoded, JsonDocument.Parse(textLines[i]).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public void SpecialTokenFlags()
    {
        var withSpecial = CliRunner.Run("tokenize", "--tokenizer", Tok, "--text", "<|eot_id|>Hi", "--add-special-tokens");
        Assert.Equal("{\"ids\":[128009,13347]}\n", withSpecial.Stdout);
        var skipped = CliRunner.Run("detokenize", "--tokenizer", Tok, "--text", "128000,9906,128009", "--skip-special-tokens");
        Assert.Equal("{\"text\":\"Hello\"}\n", skipped.Stdout);
        var kept = CliRunner.Run("detokenize", "--tokenizer", Tok, "--text", "128000,9906");
        Assert.Equal("{\"text\":\"<|begin_of_text|>Hello\"}\n", kept.Stdout);
    }

    [Fact]
    public void NonAsciiTextIsWrittenAsUtf8()
    {
        const string text = "naïve 😀 日本語 \u0001 \"quoted\" back\\slash";
        var tokenized = CliRunner.Run("tokenize", "--tokenizer", Tok, "--text", text);
        var ids = JsonDocument.Parse(tokenized.Stdout).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
        var r = CliRunner.Run("detokenize", "--tokenizer", Tok, "--text", string.Join(",", ids));
        Assert.Equal(0, r.ExitCode);
        // BMP text is written as UTF-8; System.Text.Json escapes characters outside the BMP (valid JSON either way).
        Assert.Contains("naïve ", r.Stdout);
        Assert.Contains(" 日本語 ", r.Stdout);
        Assert.Equal(text, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public void BadJsonLineNamesFileAndLine() =>
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", Tok, "--input", File("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": 3}\n")),
            "bad.jsonl:2: expected {\"text\": \"...\"}");

    [Fact]
    public void InvalidJsonLine() =>
        CliRunner.AssertUserError(CliRunner.Run("detokenize", "--tokenizer", Tok, "--input", File("bad.jsonl", "{\"ids\": [1, 2]}\n{oops\n")),
            "bad.jsonl:2: not valid JSON");

    [Fact]
    public void BadIdsLine() =>
        CliRunner.AssertUserError(CliRunner.Run("detokenize", "--tokenizer", Tok, "--input", File("bad.jsonl", "{\"ids\": [1, -2]}\n")),
            "bad.jsonl:1: token ids must be non-negative integers");

    [Fact]
    public void IdOutsideTheVocabulary() =>
        CliRunner.AssertUserError(CliRunner.Run("detokenize", "--tokenizer", Tok, "--text", "1,128256"), "token id 128256 is not in the tokenizer's vocabulary");

    [Fact]
    public void MissingInputFile() =>
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", Tok, "--input", "/no/such.jsonl"), "/no/such.jsonl: file not found");

    [Fact]
    public void MissingTokenizer() =>
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", "/no/such/dir", "--text", "x"), "/no/such/dir: tokenizer directory not found");

    [Fact]
    public void InputOrTextIsRequiredButNotBoth()
    {
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", Tok), "--input FILE.jsonl or --text is required");
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", Tok, "--text", "a", "--input", "x"), "either --input or --text");
    }

    [Fact]
    public void OutputOrderFollowsInputAndBlankLinesAreSkipped()
    {
        var r = CliRunner.Run("tokenize", "--tokenizer", Tok, "--input", File("in.jsonl", "{\"text\": \"b\"}\n\n{\"text\": \"a\"}\n"));
        Assert.Equal("{\"ids\":[65]}\n{\"ids\":[64]}\n", r.Stdout);
    }
}

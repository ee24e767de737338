using System.Text.Json;

namespace Bamba.Tests.Cli;

/// <summary>
/// JSON lines of commands no other test reads, written through the CLI's generated serializers (CliJson): each command
/// runs for real and its line parses with the fields its users read. A type missing from CliJson fails here.
/// </summary>
public class JsonOutputTests
{
    private static string Llama3 => Path.Combine(Fixtures.Root, "tokenizers", "llama3");

    private static JsonElement Line(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    [Fact]
    public void BenchGrammarWritesItsResult()
    {
        var json = Line(CliRunner.Run("bench-grammar", "--model", Fixtures.Model("tiny-bamba"), "--tokenizer", Llama3, "--batch", "2", "--steps", "2",
            "--format", "json"));
        Assert.Equal(2, json.GetProperty("Batch").GetInt32());
        Assert.Equal(30, json.GetProperty("SchemaProperties").GetInt32());
        Assert.Equal(512, json.GetProperty("Vocab").GetInt32());
        Assert.True(json.GetProperty("WarmOverhead").GetDouble() >= 0);
    }

    [Fact]
    public void BenchTokenizeWritesItsResult()
    {
        string text = Path.GetTempFileName();
        try
        {
            File.WriteAllText(text, "hello world\n");
            var json = Line(CliRunner.Run("bench-tokenize", "--tokenizer", Llama3, "--input", text, "--megabytes", "1", "--format", "json"));
            Assert.Equal(12, json.GetProperty("SourceBytes").GetInt64());
            Assert.True(json.GetProperty("Tokens").GetInt64() > 0);
        }
        finally { File.Delete(text); }
    }
}

using System.Text.Json;
using Bamba.Serving;
using Bamba.Tests.Cli;
using Bamba.Tests.Tokenization;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>
/// The tokenizer a GGUF file carries (<c>tokenizer.ggml.*</c>, <c>tokenizer.chat_template</c>) is the one it was made
/// from: the Llama-3 tokenizer written to a file and read back reproduces every case of llama3.jsonl (HF tokenizers).
/// </summary>
public class GgufTokenizerTests
{
    [Fact]
    public void Llama3TokenizerReadFromAGgufFileReproducesEveryCase()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "tokenizer.gguf");
        GgufWriter.Write(file, [new("general.architecture", GgufValue.String(GgufArchitecture.GraniteHybrid)),
            .. GgufTokenizer.FromHf(TokenizerFixtures.Llama3Directory, 128256)], []);
        var tok = TextCodecs.TryLoadTokenizer(file) ?? throw new InvalidOperationException("the file's tokenizer was not found");
        var failures = new List<string>();
        foreach (var c in TokenizerFixtures.LoadLlama3Cases())
        {
            if (!c.Ids.SequenceEqual(tok.Encode(c.Text))) failures.Add($"case {c.Index}: ids");
            if (!c.IdsWithSpecial.SequenceEqual(tok.Encode(c.Text, addSpecialTokens: true))) failures.Add($"case {c.Index}: ids_with_special");
            if (c.Decoded != tok.Decode(c.Ids)) failures.Add($"case {c.Index}: decoded");
            if (c.DecodedSkipSpecial != tok.Decode(c.IdsWithSpecial, skipSpecialTokens: true)) failures.Add($"case {c.Index}: decoded_skip_special");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches: {string.Join(", ", failures.Take(8))}");
        var hf = TokenizerFixtures.Llama3;
        Assert.Equal((hf.VocabSize, hf.BosId, hf.EosId, hf.ChatTemplate), (tok.VocabSize, tok.BosId, tok.EosId, tok.ChatTemplate));
        Assert.True(TextCodecs.Load(file)!.HasChatTemplate);
    }

    /// <summary>A model with a GPT-2-style tokenizer (pre-tokenizer "gpt-2") answers a text prompt from its GGUF file as from its directory.</summary>
    [Fact]
    public void GenerateTakesATextPromptFromAGgufFile()
    {
        using var dir = new TempDir();
        string model = TextModel.Create(Directory.CreateDirectory(Path.Combine(dir.Path, "hf")).FullName);
        string file = Path.Combine(dir.Path, "model.gguf");
        Assert.Equal(0, CliRunner.Run("convert", "--model", model, "--type", "f32", "--out", file).ExitCode);

        var fromDir = CliRunner.Run("generate", "--model", model, "--prompt", "the cat", "--max-new-tokens", "6", "--format", "json");
        var fromFile = CliRunner.Run("generate", "--model", file, "--prompt", "the cat", "--max-new-tokens", "6", "--format", "json");

        Assert.Equal(0, fromFile.ExitCode);
        var (expected, actual) = (JsonDocument.Parse(fromDir.Stdout).RootElement, JsonDocument.Parse(fromFile.Stdout).RootElement);
        Assert.Equal(expected.GetProperty("token_ids").GetRawText(), actual.GetProperty("token_ids").GetRawText());
        Assert.Equal(expected.GetProperty("text").GetString(), actual.GetProperty("text").GetString());
        Assert.True(TextCodecs.Load(file)!.HasChatTemplate);
    }

    [Fact]
    public void AFileWithoutATokenizerHasNoTextCodec()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf");
        ModelConversion.ToGguf(Fixtures.Model("tiny-bamba"), file, GgufFileType.Parse("f32"));
        Assert.Null(TextCodecs.Load(file));
    }
}

using System.Text.Json.Nodes;
using Bamba.Tokenization;
using static Bamba.Tests.Tokenization.TokenizerFiles;

namespace Bamba.Tests.Tokenization;

/// <summary>Broken or unsupported tokenizer files give a BambaException that names the file and the problem.</summary>
public sealed class TokenizerErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-tokerr-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private BambaException LoadError(string tokenizerJson)
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), tokenizerJson);
        return Assert.Throws<BambaException>(() => HfTokenizer.Load(_dir));
    }

    private static string Minimal(Action<JsonObject> change)
    {
        var t = Tokenizer(Bpe(ByteLevelVocab("ab"), Merges("a b")), preTokenizer: Type("ByteLevel"), decoder: Type("ByteLevel"));
        change(t);
        return t.ToJsonString();
    }

    [Fact]
    public void MissingDirectory() =>
        Assert.Contains("/no/such/dir: tokenizer directory not found", Assert.Throws<BambaException>(() => HfTokenizer.Load("/no/such/dir")).Message);

    [Fact]
    public void MissingTokenizerJson() =>
        Assert.Contains("tokenizer.json: file not found", Assert.Throws<BambaException>(() => HfTokenizer.Load(_dir)).Message);

    [Fact]
    public void MalformedJson()
    {
        var e = LoadError("{ \"model\": { oops");
        Assert.Contains(Path.Combine(_dir, "tokenizer.json"), e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Theory]
    [InlineData("WordPiece")]
    [InlineData("Unigram")]
    [InlineData("WordLevel")]
    public void UnsupportedModelTypes(string type) =>
        Assert.Contains($"tokenizer model type {type} is not supported", LoadError(Minimal(t => t["model"]!["type"] = type)).Message);

    [Fact]
    public void UnsupportedPreTokenizer() =>
        Assert.Contains("pre_tokenizer type 'BertPreTokenizer' is not supported",
            LoadError(Minimal(t => t["pre_tokenizer"] = Type("BertPreTokenizer"))).Message);

    [Fact]
    public void UnsupportedNormalizerNamesItsPath() =>
        Assert.Contains("$.normalizer.normalizers[1]: normalizer type 'Precompiled' is not supported",
            LoadError(Minimal(t => t["normalizer"] = Type("Sequence", ("normalizers", new JsonArray(Type("NFC"), Type("Precompiled")))))).Message);

    [Fact]
    public void MergeWithUnknownToken() =>
        Assert.Contains("merge token 'zz' is not in the vocabulary",
            LoadError(Minimal(t => t["model"]!["merges"] = Merges("a zz"))).Message);

    [Fact]
    public void BadMergeLine() =>
        Assert.Contains("a merge must be", LoadError(Minimal(t => t["model"]!["merges"] = Merges("a b c"))).Message);

    [Fact]
    public void MissingVocab() =>
        Assert.Contains("$.model: missing field 'vocab'", LoadError(Minimal(t => ((JsonObject)t["model"]!).Remove("vocab"))).Message);

    [Fact]
    public void RegexDotNetCannotCompile() =>
        Assert.Contains("is not supported by .NET regular expressions",
            LoadError(Minimal(t => t["pre_tokenizer"] = Type("Split", ("pattern", RegexPattern("a++(")), ("behavior", "Isolated"), ("invert", false)))).Message);

    [Fact]
    public void BadTokenizerConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), Minimal(_ => { }));
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), "[1, 2");
        var e = Assert.Throws<BambaException>(() => HfTokenizer.Load(_dir));
        Assert.Contains("tokenizer_config.json: not valid JSON", e.Message);
    }

    [Fact]
    public void MergeArrayFormIsAccepted()
    {
        var json = Minimal(t => t["model"]!["merges"] = new JsonArray(new JsonArray("a", "b")));
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), json);
        // ByteLevel's default add_prefix_space gives " ab": Ġ, then the merged "ab".
        Assert.Equal([32, 256], HfTokenizer.Load(_dir).Encode("ab"));
    }
}

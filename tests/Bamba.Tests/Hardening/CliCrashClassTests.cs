using System.Buffers.Binary;
using System.Text;
using Bamba.Tests.Cli;

namespace Bamba.Tests.Hardening;

/// <summary>
/// Each class of input that once crashed the CLI (stack trace, exit 134) now prints one line and exits 2: malformed
/// safetensors headers, weights linked to a device, absurd token ids, invalid Unicode in JSON inputs, non-finite
/// numbers, out-of-range ports and sizes.
/// </summary>
public sealed class CliCrashClassTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-crash-").FullName;
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");
    private static string DefaultModel => Path.Combine(Fixtures.RepositoryRoot, "models", "default");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ModelWithHeader(Func<string, string> edit, string name = "m")
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        foreach (var f in new[] { "config.json", "generation_config.json" }) File.Copy(Path.Combine(Tiny, f), Path.Combine(dir, f));
        var bytes = File.ReadAllBytes(Path.Combine(Tiny, "model.safetensors"));
        int length = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = HostileInput.Bytes(edit(Encoding.UTF8.GetString(bytes, 8, length)));
        var prefix = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, header.Length);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), [.. prefix, .. header, .. bytes[(8 + length)..]]);
        return dir;
    }

    /// <summary>The header's first tensor entry, as text: {"dtype":...,"shape":[...],"data_offsets":[a,b]}.</summary>
    private static (string Name, int Start, int End) FirstTensor(string header)
    {
        int nameStart = header.IndexOf("\"model.", StringComparison.Ordinal);
        int nameEnd = header.IndexOf('"', nameStart + 1);
        int start = header.IndexOf('{', nameEnd), end = header.IndexOf('}', start) + 1;
        return (header[(nameStart + 1)..nameEnd], start, end);
    }

    public static TheoryData<string, string> BadHeaders => new()
    {
        { "invalid-utf8", "not valid UTF-8" },
        { "lone-surrogate", "not valid Unicode" },
        { "offsets-as-strings", "data_offsets must be [begin, end]" },
        { "duplicate-key", "appears twice" },
        { "shape-wraps", "more elements than a file can hold" },
        { "shape-wraps-to-zero", "more elements than a file can hold" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void MalformedSafetensorsHeaders(string kind, string message)
    {
        string dir = ModelWithHeader(h =>
        {
            var (name, start, end) = FirstTensor(h);
            string entry = h[start..end];
            return kind switch
            {
                "invalid-utf8" => h.Replace(name, name + HostileInput.InvalidByte),
                "lone-surrogate" => h.Replace(name, name + HostileInput.LoneSurrogate),
                "offsets-as-strings" => h[..start] + System.Text.RegularExpressions.Regex.Replace(entry, @"""data_offsets"":\s*\[(\d+),\s*(\d+)\]", "\"data_offsets\":[\"$1\",\"$2\"]") + h[end..],
                // The same key twice: JSON allows it, a tensor table must not.
                "duplicate-key" => h[..end] + $",\"{name}\":{entry}" + h[end..],
                "shape-wraps" => h[..start] + System.Text.RegularExpressions.Regex.Replace(entry, @"""shape"":\s*\[[^\]]*\]", "\"shape\":[4611686018427387904,4,3]") + h[end..],
                // 2^62 × 4 elements wraps a long to exactly 0: an empty byte range would pass a wrapped check.
                _ => h[..start] + System.Text.RegularExpressions.Regex.Replace(
                    System.Text.RegularExpressions.Regex.Replace(entry, @"""shape"":\s*\[[^\]]*\]", "\"shape\":[4611686018427387904,4]"),
                    @"""data_offsets"":\s*\[(\d+),\s*\d+\]", "\"data_offsets\":[$1,$1]") + h[end..],
            };
        }, kind);
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", dir), message);
    }

    [Theory]
    [InlineData("/dev/null")]
    [InlineData("/dev/zero")]
    [InlineData("/nonexistent/blob")]
    public void WeightsLinkedToADeviceOrNothing(string target)
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "linked")).FullName;
        File.Copy(Path.Combine(Tiny, "config.json"), Path.Combine(dir, "config.json"));
        File.CreateSymbolicLink(Path.Combine(dir, "model.safetensors"), target);
        var r = CliRunner.Run("info", "--model", dir);
        CliRunner.AssertUserError(r, "model.safetensors");
    }

    [Theory]
    [InlineData("\"hello\": 2147483647")]
    [InlineData("\"hello\": 16777216")]
    [InlineData("\"hello\": -3")]
    public void AbsurdTokenIdsInTheVocabulary(string entry)
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "tok")).FullName;
        string json = File.ReadAllText(Path.Combine(DefaultModel, "tokenizer.json"));
        int vocab = json.IndexOf("\"vocab\": {", StringComparison.Ordinal);
        Assert.True(vocab > 0);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.Insert(vocab + "\"vocab\": {".Length, entry + ","));
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", dir, "--text", "hi"), "must be an integer in [0, 16777215]");
    }

    [Theory]
    [InlineData("tokenize")]
    [InlineData("detokenize")]
    [InlineData("generate")]
    [InlineData("train")]
    public void LoneSurrogatesInJsonLinesInput(string command)
    {
        string input = Path.Combine(_dir, "in.jsonl");
        File.WriteAllText(input, "{\"text\": \"fine\", \"prompt\": \"fine\", \"ids\": [1, 2], \"prompt_ids\": [1, 2]}\n" +
                                 "{\"text\": \"bad \\ud800\", \"prompt\": \"bad \\udc00 x\", \"ids\": [1, 2, 3]}\n");
        string[] args = command switch
        {
            "tokenize" or "detokenize" => [command, "--tokenizer", DefaultModel, "--input", input],
            "generate" => [command, "--model", DefaultModel, "--input", input, "--max-new-tokens", "1"],
            _ => [command, "--model", DefaultModel, "--data", input, "--out", Path.Combine(_dir, "o"), "--steps", "1"],
        };
        CliRunner.AssertUserError(CliRunner.Run(args), "in.jsonl:2: the text at ");
    }

    [Fact]
    public void NonFiniteScoresAreWrittenNotCrashedOn()
    {
        // A model whose final norm weight is infinite scores NaN everywhere.
        string dir = ModelWithHeader(h => h, "nan");
        var bytes = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        using (var file = Bamba.Weights.SafetensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            var info = file.Tensors["model.final_layernorm.weight"];
            long at = 8 + BinaryPrimitives.ReadInt64LittleEndian(bytes) + info.Begin;
            for (long i = at; i < at + info.ByteLength; i += 4) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)i), float.PositiveInfinity);
        }
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), bytes);
        var r = CliRunner.Run("score", "--model", dir, "--ids", "1,2,3", "--format", "json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("NaN", r.Stdout);
    }

    [Theory]
    [InlineData("--port", "65536", "--port must be in [0, 65535]")]
    [InlineData("--port", "-5", "--port")]
    [InlineData("--max-batch", "2147483647", "max batch must be in [1, 65536]")]
    [InlineData("--max-context", "2147483647", "max context must be ≤")]
    [InlineData("--api-key", "", "API key (--api-key or BAMBA_API_KEY) is empty")]
    [InlineData("--api-key", "   ", "is empty")]
    public void ServeRefusesBeforeListening(string flag, string value, string message) =>
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, flag, value), message);

    [Theory]
    [InlineData("--lr", "1e308")]
    [InlineData("--weight-decay", "1e39")]
    [InlineData("--max-grad-norm", "Infinity")]
    public void NonFiniteNumbersAreRefused(string flag, string value)
    {
        string data = Training.TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), 3, 100, 1);
        CliRunner.AssertUserError(CliRunner.Run("train", "--config", Path.Combine(Tiny, "config.json"), "--data", data,
            "--out", Path.Combine(_dir, "o"), "--steps", "1", flag, value), flag);
    }
}

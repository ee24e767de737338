using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Bamba.Tests.Cli;

namespace Bamba.Tests.Hardening;

/// <summary>
/// A few hundred malformed model files, tokenizers, JSON-lines inputs and flag values from a seeded generator: every run
/// ends with exit 0 or with exit 2 and one line on stderr, never an exception or a stack trace, and the model's greedy
/// output is the same before and after.
/// </summary>
public sealed class CliFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-fuzz-").FullName;
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");
    private static string DefaultModel => Path.Combine(Fixtures.RepositoryRoot, "models", "default");
    private int _case;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CliRunner.Result Greedy() => CliRunner.Run("generate", "--model", Tiny, "--prompt-ids", "1,2,3,4,5", "--max-new-tokens", "6");

    /// <summary>Exit 0, or exit 2 with one line naming the problem; no exception escapes and no stack trace is printed.</summary>
    private static void AssertHandled(string what, params string[] args)
    {
        CliRunner.Result r;
        try { r = CliRunner.Run(args); }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}: bamba {string.Join(' ', args.Select(a => a.Length > 80 ? a[..80] + "…" : a))} threw {e}"); }
        Assert.False(r.Stdout.Contains("   at ") || r.Stderr.Contains("   at "), $"{what}: a stack trace: {r.Stderr}");
        if (r.ExitCode == 0) return;
        Assert.True(r.ExitCode == 2, $"{what}: exit {r.ExitCode}: {r.Stderr}");
        Assert.True(r.Stderr.TrimEnd('\n').Split('\n').Length == 1, $"{what}: more than one line: {r.Stderr}");
    }

    private string NewDirectory() => Directory.CreateDirectory(Path.Combine(_dir, $"case{_case++}")).FullName;

    private string CopyOf(string model, params string[] files)
    {
        string dir = NewDirectory();
        foreach (var f in files) File.Copy(Path.Combine(model, f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void MalformedFilesInputsAndFlagsAreUserErrors()
    {
        var before = Greedy();
        Assert.Equal(0, before.ExitCode);
        var fuzz = new HostileInput(HostileInput.Seed);
        int scale = HostileInput.Scale;
        for (int i = 0; i < 60 * scale; i++) ModelFileCase(fuzz, i);
        for (int i = 0; i < 40 * scale; i++) TokenizerCase(fuzz, i);
        for (int i = 0; i < 60 * scale; i++) JsonLinesCase(fuzz, i);
        for (int i = 0; i < 80 * scale; i++) FlagCase(fuzz, i);
        Assert.Equal(before, Greedy());
    }

    /// <summary>tiny-bamba with one of config.json, generation_config.json or the safetensors header mutated.</summary>
    private void ModelFileCase(HostileInput fuzz, int i)
    {
        string dir = CopyOf(Tiny, "config.json", "generation_config.json", "model.safetensors");
        string weights = Path.Combine(dir, "model.safetensors");
        switch (fuzz.Random.Next(5))
        {
            case 0 or 1:
                MutateJsonFile(fuzz, Path.Combine(dir, "config.json"));
                break;
            case 2:
                MutateJsonFile(fuzz, Path.Combine(dir, "generation_config.json"));
                break;
            case 3:
                var (header, data) = SplitSafetensors(File.ReadAllBytes(weights));
                var mutated = HostileInput.Bytes(fuzz.Mutate(JsonNode.Parse(header)!));
                File.WriteAllBytes(weights, [.. Length(mutated.Length), .. mutated, .. data]);
                break;
            default:
                var bytes = File.ReadAllBytes(weights);
                File.WriteAllBytes(weights, fuzz.Corrupt(bytes, within: 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(bytes)));
                break;
        }
        string[][] commands =
        [
            ["info", "--model", dir],
            ["generate", "--model", dir, "--prompt-ids", "1,2,3", "--max-new-tokens", "2"],
            ["score", "--model", dir, "--ids", "1,2,3", "--format", "json"],
        ];
        AssertHandled($"model case {i}", fuzz.Pick(commands));
    }

    /// <summary>The default model's tokenizer files with one mutated; tokenize and detokenize with it.</summary>
    private void TokenizerCase(HostileInput fuzz, int i)
    {
        string dir = CopyOf(DefaultModel, "tokenizer.json", "tokenizer_config.json");
        MutateJsonFile(fuzz, Path.Combine(dir, fuzz.Random.Next(4) == 0 ? "tokenizer_config.json" : "tokenizer.json"));
        AssertHandled($"tokenizer case {i}", fuzz.Random.Next(2) == 0
            ? ["tokenize", "--tokenizer", dir, "--text", "Hello there, world 42!"]
            : ["detokenize", "--tokenizer", dir, "--text", "1,2,300"]);
    }

    /// <summary>Random JSON-lines files fed to every command that reads one.</summary>
    private void JsonLinesCase(HostileInput fuzz, int i)
    {
        string dir = NewDirectory(), file = Path.Combine(dir, "input.jsonl");
        var lines = Enumerable.Range(0, fuzz.Random.Next(1, 4)).Select(_ => fuzz.Random.Next(4) switch
        {
            0 => HostileInput.Bytes(new JsonObject { ["text"] = fuzz.Value() }),
            1 => HostileInput.Bytes(new JsonObject { ["prompt"] = fuzz.Value() }),
            2 => HostileInput.Bytes(new JsonObject { [fuzz.Pick(new[] { "ids", "prompt_ids" })] = new JsonArray(fuzz.Value(), fuzz.Value()) }),
            _ => HostileInput.Bytes(fuzz.Value()),
        });
        File.WriteAllBytes(file, [.. lines.SelectMany(l => l.Append((byte)'\n'))]);
        string[][] commands =
        [
            ["tokenize", "--tokenizer", DefaultModel, "--input", file],
            ["detokenize", "--tokenizer", DefaultModel, "--input", file],
            ["generate", "--model", DefaultModel, "--input", file, "--max-new-tokens", "1"],
            ["train", "--config", Path.Combine(Tiny, "config.json"), "--data", file, "--out", Path.Combine(dir, "out"), "--steps", "1", "--batch-tokens", "8", "--eval-fraction", "0"],
        ];
        AssertHandled($"jsonl case {i}", fuzz.Pick(commands));
    }

    /// <summary>One flag of a command set to a hostile value; serve only with values that must stop it before it listens.</summary>
    private void FlagCase(HostileInput fuzz, int i)
    {
        string[] values = [.. HostileInput.Numbers, "", "abc", "-", "--", "1,2", "/dev/null", ".", "/"];
        var (command, flags) = fuzz.Pick(new (string[] Command, string[] Flags)[]
        {
            (["generate", "--model", Tiny, "--prompt-ids", "1,2", "--max-new-tokens", "2"], ["temperature", "top-k", "top-p", "min-p", "repetition-penalty", "seed", "format", "device", "precision", "prompt-ids"]),
            (["score", "--model", Tiny, "--ids", "1,2,3"], ["ids", "format", "device"]),
            (["info", "--model", Tiny], ["model", "device"]),
            (["tokenize", "--tokenizer", DefaultModel], ["text", "tokenizer", "input"]),
            (["detokenize", "--tokenizer", DefaultModel], ["text", "input"]),
            (["train", "--config", Path.Combine(Tiny, "config.json"), "--steps", "1", "--eval-fraction", "0"], ["data", "out", "batch-tokens", "grad-accum", "lr", "warmup", "weight-decay", "seed", "eval-tokens"]),
        });
        string flag = fuzz.Pick(flags);
        var args = command.ToList();
        int existing = args.IndexOf("--" + flag);
        if (existing >= 0) args.RemoveRange(existing, 2);
        args.AddRange(["--" + flag, fuzz.Pick(values)]);
        if (command[0] == "train")
        {
            string dir = NewDirectory();
            if (flag != "data") args.AddRange(["--data", TrainingDataFile(dir)]);
            if (flag != "out") args.AddRange(["--out", Path.Combine(dir, "out")]);
            if (flag != "batch-tokens") args.AddRange(["--batch-tokens", "8"]);
        }
        if (command[0] == "tokenize" && flag != "text" && flag != "input") args.AddRange(["--text", "hello"]);
        if (command[0] == "detokenize" && flag != "text" && flag != "input") args.AddRange(["--text", "1,2"]);
        AssertHandled($"flag case {i}", [.. args]);

        // serve: values that must be refused before it listens (it would otherwise serve until stopped).
        var serve = fuzz.Pick(new[] { ("port", "65536"), ("port", "-1"), ("max-batch", "2147483647"), ("max-batch", "0"), ("max-context", "2147483647"), ("api-key", ""), ("api-key", " ") });
        var refused = CliRunner.Run("serve", "--model", Tiny, "--" + serve.Item1, serve.Item2);
        CliRunner.AssertUserError(refused, "");
        Assert.Matches(serve.Item1 == "api-key" ? "API key" : serve.Item1.Replace("-", "[- ]"), refused.Stderr);
    }

    private static string TrainingDataFile(string dir) =>
        Training.TrainingData.WriteIdDocuments(Path.Combine(dir, "ids.jsonl"), documents: 3, vocab: 100, seed: 1);

    private static void MutateJsonFile(HostileInput fuzz, string path) =>
        File.WriteAllBytes(path, HostileInput.Bytes(fuzz.Mutate(JsonNode.Parse(File.ReadAllBytes(path))!)));

    private static (byte[] Header, byte[] Data) SplitSafetensors(byte[] file)
    {
        int length = (int)BinaryPrimitives.ReadInt64LittleEndian(file);
        return (file[8..(8 + length)], file[(8 + length)..]);
    }

    private static byte[] Length(long n)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, n);
        return b;
    }
}

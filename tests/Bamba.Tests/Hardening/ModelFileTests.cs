using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Tests.Cli;
using Bamba.Training;

namespace Bamba.Tests.Hardening;

/// <summary>
/// Model directories as users have them: Hugging Face's cache of symbolic links, a checkpoint whose save a kill
/// interrupted, config.json values that are out of range, and tokenizer patterns that backtrack catastrophically.
/// </summary>
public sealed class ModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-files-").FullName;
    private static string DefaultModel => Path.Combine(Fixtures.RepositoryRoot, "models", "default");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>models--org--name/blobs/SHA and snapshots/REV/FILE → ../../blobs/SHA, as huggingface_hub lays it out.</summary>
    private string HfCache(string model, bool sharded)
    {
        string repo = Path.Combine(_dir, "hub", "models--ibm--tiny");
        string blobs = Directory.CreateDirectory(Path.Combine(repo, "blobs")).FullName;
        string snapshot = Directory.CreateDirectory(Path.Combine(repo, "snapshots", "0123456789abcdef")).FullName;
        foreach (var file in Directory.GetFiles(model).Where(f => !Path.GetFileName(f).StartsWith("reference")))
        {
            string blob = Path.Combine(blobs, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))));
            if (!File.Exists(blob)) File.Copy(file, blob);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", Path.GetFileName(blob)));
        }
        Assert.Equal(sharded, File.Exists(Path.Combine(snapshot, "model.safetensors.index.json")));
        return snapshot;
    }

    [Theory]
    [InlineData("tiny-bamba", false)]
    [InlineData("tiny-bamba-bf16-sharded", true)]
    public void AHuggingFaceCacheSnapshotLoadsThroughItsLinks(string name, bool sharded)
    {
        string snapshot = HfCache(Fixtures.Model(name), sharded);
        var linked = CliRunner.Run("generate", "--model", snapshot, "--prompt-ids", "1,2,3", "--max-new-tokens", "5");
        Assert.True(linked.ExitCode == 0, linked.Stderr);
        Assert.Equal(CliRunner.Run("generate", "--model", Fixtures.Model(name), "--prompt-ids", "1,2,3", "--max-new-tokens", "5").Stdout, linked.Stdout);
        // A link to a link resolves to the end; a truncated blob behind a link is still seen as truncated.
        string twice = Directory.CreateDirectory(Path.Combine(_dir, "twice")).FullName;
        foreach (var f in Directory.GetFiles(snapshot)) File.CreateSymbolicLink(Path.Combine(twice, Path.GetFileName(f)), f);
        Assert.Equal(0, CliRunner.Run("info", "--model", twice).ExitCode);
        string blob = new FileInfo(Path.Combine(snapshot, sharded ? "model-00001-of-00003.safetensors" : "model.safetensors")).ResolveLinkTarget(true)!.FullName;
        using (var stream = new FileStream(blob, FileMode.Open)) stream.SetLength(stream.Length - 100);
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", snapshot), "truncated");
    }

    [Fact]
    public void ReadersLoadALonePreviousCheckpointInPlace()
    {
        string data = Training.TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), 4, 100, 1);
        string output = Path.Combine(_dir, "ckpt");
        Assert.Equal(0, CliRunner.Run("train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--data", data,
            "--out", output, "--steps", "1", "--batch-tokens", "16", "--eval-fraction", "0").ExitCode);
        var expected = CliRunner.Run("generate", "--model", output, "--prompt-ids", "1,2", "--max-new-tokens", "3");
        Directory.Move(output, output + ".previous"); // a kill between a save's two renames
        foreach (var args in new[] { new[] { "generate", "--model", output, "--prompt-ids", "1,2", "--max-new-tokens", "3" }, ["info", "--model", output], ["score", "--model", output, "--ids", "1,2,3"] })
        {
            var r = CliRunner.Run(args);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        Assert.Equal(expected.Stdout, CliRunner.Run("generate", "--model", output, "--prompt-ids", "1,2", "--max-new-tokens", "3").Stdout);
        Assert.False(Directory.Exists(output)); // read in place, not renamed under a trainer that may be saving
    }

    [Fact]
    public void ResumeKeepsSaveEveryAndRefusesANewWeightDecay()
    {
        string data = Training.TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), 6, 100, 1);
        string output = Path.Combine(_dir, "ckpt");
        string[] start = ["train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--data", data, "--out", output,
                          "--steps", "2", "--batch-tokens", "16", "--eval-fraction", "0", "--save-every", "1", "--weight-decay", "0.05"];
        Assert.Equal(0, CliRunner.Run(start).ExitCode);
        Assert.Equal(1, TrainerState.Read(Path.Combine(output, Checkpoint.StateFile)).SaveEvery);

        CliRunner.AssertUserError(CliRunner.Run("train", "--data", data, "--out", output, "--resume", "--steps", "4", "--weight-decay", "0.2"),
            "--weight-decay comes from the checkpoint");
        var resumed = CliRunner.Run("train", "--data", data, "--out", output, "--resume", "--steps", "4");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var state = TrainerState.Read(Path.Combine(output, Checkpoint.StateFile));
        Assert.Equal((4, 1, 0.05f), (state.Step, state.SaveEvery, state.WeightDecay));
    }

    [Fact]
    public void DataTooShortForOneRowIsRefused()
    {
        string data = Path.Combine(_dir, "short.jsonl");
        File.WriteAllLines(data, ["{\"ids\": [5]}", "{\"ids\": [7]}", "{\"ids\": [9]}"]);
        CliRunner.AssertUserError(CliRunner.Run("train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--data", data,
            "--out", Path.Combine(_dir, "o"), "--steps", "3", "--eval-fraction", "0"), "nothing to predict");
    }

    public static TheoryData<string, string, string> BadConfigValues => new()
    {
        { "\"rope_theta\": 10000.0", "\"rope_theta\": 0", "rope_theta must be a positive number" },
        { "\"rope_theta\": 10000.0", "\"rope_theta\": -5", "rope_theta must be a positive number" },
        { "\"rope_theta\": 10000.0", "\"rope_theta\": Infinity", "rope_theta must be a positive number" },
        { "\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, \"partial_rotary_factor\": 2", "partial_rotary_factor must be in (0, 1]" },
        { "\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, \"partial_rotary_factor\": 0", "partial_rotary_factor must be in (0, 1]" },
        { "\"eos_token_id\": 2", "\"eos_token_id\": 512", "eos_token_id 512 is outside the vocabulary" },
        { "\"eos_token_id\": 2", "\"eos_token_id\": -1", "eos_token_id -1 is outside the vocabulary" },
        { "\"eos_token_id\": 2", "\"eos_token_id\": [2, 99999]", "eos_token_id 99999 is outside the vocabulary" },
        { "\"bos_token_id\": 1", "\"bos_token_id\": -7", "bos_token_id -7 is outside the vocabulary" },
        { "\"dtype\": \"float32\"", "\"dtype\": \"int4\"", "dtype 'int4' is not supported" },
        { "\"dtype\": \"float32\"", "\"dtype\": \"\"", "dtype '' is not supported" },
        { "\"vocab_size\": 512", "\"vocab_size\": 2147483647", "vocab_size is 2147483647, more than 16777216" },
        { "\"hidden_size\": 64", "\"hidden_size\": 16000000", "more than one array holds" },
    };

    [Theory]
    [MemberData(nameof(BadConfigValues))]
    public void ConfigValuesOutOfRangeNameTheField(string from, string to, string message)
    {
        string json = File.ReadAllText(Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"));
        Assert.Contains(from, json);
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, json.Replace(from, to));
        var e = Assert.Throws<BambaException>(() => BambaConfigReader.Load(path));
        Assert.Contains(message, e.Message);
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", _dir), message);
    }

    [Fact]
    public void ACatastrophicallyBacktrackingPatternTimesOut()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "regex")).FullName;
        string json = File.ReadAllText(Path.Combine(DefaultModel, "tokenizer.json"));
        var tokenizer = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        tokenizer["pre_tokenizer"] = System.Text.Json.Nodes.JsonNode.Parse("""{"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated", "invert": false}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
        Assert.Equal(0, CliRunner.Run("tokenize", "--tokenizer", dir, "--text", "aaab").ExitCode);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        CliRunner.AssertUserError(CliRunner.Run("tokenize", "--tokenizer", dir, "--text", new string('a', 60) + "b"), "backtracks catastrophically");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"{watch.Elapsed}"); // 2^60 steps unbounded
    }
}

using Bamba.Tests.Cli;
using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary><c>bamba train --resume</c> continues bit-exactly: same weights and moments as an uninterrupted run.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [MemberData(nameof(GradientParityTests.ModelsWithGradients), MemberType = typeof(GradientParityTests))]
    public void SaveThenResumeEqualsAnUninterruptedRun(string modelName)
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 24, vocab: 512, seed: 5);
        string[] Args(string output, int steps) =>
            ["train", "--model", Fixtures.Model(modelName), "--data", data, "--out", output, "--steps", steps.ToString(),
             "--batch-tokens", "48", "--grad-accum", "2", "--lr", "1e-3", "--warmup", "2", "--seed", "7", "--eval-fraction", "0.2"];
        string whole = Path.Combine(_dir, "whole"), split = Path.Combine(_dir, "split");

        Assert.Equal(0, CliRunner.Run(Args(whole, 5)).ExitCode);
        Assert.Equal(0, CliRunner.Run(Args(split, 2)).ExitCode);
        var resumed = CliRunner.Run("train", "--data", data, "--out", split, "--resume", "--steps", "5");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);

        foreach (var file in new[] { "model.safetensors", Checkpoint.OptimizerFile })
            Assert.True(File.ReadAllBytes(Path.Combine(whole, file)).SequenceEqual(File.ReadAllBytes(Path.Combine(split, file))), $"{file} differs");
        var state = TrainerState.Read(Path.Combine(split, Checkpoint.StateFile));
        Assert.Equal(5, state.Step);
        Assert.Equal(TrainerState.Read(Path.Combine(whole, Checkpoint.StateFile)).Cursor, state.Cursor);
    }

    [Fact]
    public void Bf16CheckpointsStayBf16WithFloat32MasterWeights()
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 8, vocab: 512, seed: 1);
        string output = Path.Combine(_dir, "bf16");
        var r = CliRunner.Run("train", "--model", Fixtures.Model("tiny-bamba-bf16-sharded"), "--data", data, "--out", output,
            "--steps", "1", "--batch-tokens", "32", "--eval-fraction", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var weights = Bamba.Weights.SafetensorsFile.Open(Path.Combine(output, "model.safetensors"));
        Assert.All(weights.Tensors.Values, t => Assert.Equal(Bamba.Weights.DType.BF16, t.DType));
        using var optimizer = Bamba.Weights.SafetensorsFile.Open(Path.Combine(output, Checkpoint.OptimizerFile));
        Assert.Equal(Bamba.Weights.DType.F32, optimizer.Tensors["master.model.embed_tokens.weight"].DType);
        Assert.Contains("\"bfloat16\"", File.ReadAllText(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void AnInterruptedSaveLeavesThePreviousCheckpoint()
    {
        string output = Path.Combine(_dir, "ckpt");
        // A kill between the two renames: the old checkpoint sits in DIR.previous, DIR is gone, DIR.partial half-written.
        CheckpointDirectory.Begin(output + ".previous", ["model.safetensors"]);
        File.WriteAllText(Path.Combine(output + ".previous", "model.safetensors"), "old");
        CheckpointDirectory.Begin(output + ".partial", ["model.safetensors", "config.json"]);
        File.WriteAllText(Path.Combine(output + ".partial", "model.safetensors"), "trunc");

        Checkpoint.Recover(output);

        Assert.Equal("old", File.ReadAllText(Path.Combine(output, "model.safetensors")));
        Assert.False(Directory.Exists(output + ".previous"));
        Assert.False(Directory.Exists(output + ".partial"));
    }
}

internal static class TrainingData
{
    /// <summary>A .jsonl of <c>{"ids": [...]}</c> documents with random lengths 5..40.</summary>
    public static string WriteIdDocuments(string path, int documents, int vocab, int seed)
    {
        var rng = new Random(seed);
        File.WriteAllLines(path, Enumerable.Range(0, documents).Select(_ =>
            "{\"ids\": [" + string.Join(", ", Enumerable.Range(0, rng.Next(5, 40)).Select(_ => rng.Next(3, vocab))) + "]}"));
        return path;
    }
}

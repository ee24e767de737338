using Bamba.Modeling;
using Bamba.Tests.Cli;

namespace Bamba.Tests.Training;

/// <summary>The <c>bamba train</c> command end to end, and the errors a user can cause.</summary>
public sealed class TrainCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TrainingFromAConfigLowersTheLossAndWritesALoadableCheckpoint()
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 6, vocab: 40, seed: 2);
        string output = Path.Combine(_dir, "out");
        var r = CliRunner.Run("train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--data", data,
            "--out", output, "--steps", "30", "--batch-tokens", "64", "--lr", "3e-3", "--eval-fraction", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var state = Bamba.Training.TrainerState.Read(Path.Combine(output, "trainer_state.json"));
        Assert.True(state.LastLoss < Math.Log(512) - 1, $"loss {state.LastLoss} did not fall below ln(vocab) − 1");
        using var model = BambaModel.Load(output); // the HF checkpoint loads in the inference engine
        Assert.Equal(512, model.Config.VocabSize);
        foreach (var f in new[] { "config.json", "generation_config.json", "model.safetensors" }) Assert.True(File.Exists(Path.Combine(output, f)));
    }

    [Fact]
    public void TextTrainsWithATrainedTokenizerWhichTheCheckpointCarries()
    {
        string text = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(text, string.Join("\n\n", Enumerable.Range(0, 30).Select(i => $"fortune number {i}: the cat sat on the mat.")));
        string tokenizer = Path.Combine(_dir, "tok");
        Assert.Equal(0, CliRunner.Run("train-tokenizer", "--data", text, "--vocab-size", "320", "--out", tokenizer).ExitCode);
        string output = Path.Combine(_dir, "out");
        var r = CliRunner.Run("train", "--config", Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"), "--tokenizer", tokenizer,
            "--data", text, "--out", output, "--steps", "2", "--batch-tokens", "40", "--eval-fraction", "0.1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("eval perplexity", r.Stdout);
        Assert.Equal(File.ReadAllText(Path.Combine(tokenizer, "tokenizer.json")), File.ReadAllText(Path.Combine(output, "tokenizer.json")));
        var generated = CliRunner.Run("generate", "--model", output, "--prompt", "the cat", "--max-new-tokens", "4");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
    }

    [Fact]
    public void TextDataWithoutATokenizerNamesTheFlag()
    {
        string data = Path.Combine(_dir, "text.txt");
        File.WriteAllText(data, "first document\n\nsecond one\n");
        var r = CliRunner.Run("train", "--model", Fixtures.Model("tiny-bamba"), "--data", data, "--out", Path.Combine(_dir, "o"));
        CliRunner.AssertUserError(r, "--tokenizer");
    }

    [Fact]
    public void ModelAndConfigAreExclusive()
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), 3, 100, 1);
        var r = CliRunner.Run("train", "--data", data, "--out", Path.Combine(_dir, "o"));
        CliRunner.AssertUserError(r, "--model DIR or --config FILE");
    }

    [Fact]
    public void AnExistingCheckpointNeedsResume()
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), 4, 100, 1);
        string output = Path.Combine(_dir, "o");
        string[] args = ["train", "--model", Fixtures.Model("tiny-bamba"), "--data", data, "--out", output, "--steps", "1", "--batch-tokens", "16"];
        Assert.Equal(0, CliRunner.Run(args).ExitCode);
        CliRunner.AssertUserError(CliRunner.Run(args), "--resume");
    }

    [Fact]
    public void BadJsonlLineNamesFileAndLine()
    {
        string data = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(data, "{\"ids\": [1, 2]}\n{\"tokens\": 3}\n");
        var r = CliRunner.Run("train", "--model", Fixtures.Model("tiny-bamba"), "--data", data, "--out", Path.Combine(_dir, "o"));
        CliRunner.AssertUserError(r, "bad.jsonl:2");
    }
}

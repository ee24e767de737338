using System.Text.Json.Nodes;
using Bamba.Tests.Cli;
using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary><c>bamba train --router-aux-loss-coef</c>: what a run with it records and keeps, and the values and models it refuses.</summary>
public sealed class RouterAuxLossCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-aux-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Data() => TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 6, vocab: 200, seed: 3);

    [Fact]
    public void ARunReportsTheAuxLossApartAndKeepsTheConfigAsItWas()
    {
        string model = Fixtures.Model("tiny-granite-moe-hybrid"), data = Data(), output = Path.Combine(_dir, "out");
        var r = CliRunner.Run("train", "--model", model, "--data", data, "--out", output, "--steps", "2", "--batch-tokens", "24",
            "--grad-accum", "2", "--eval-fraction", "0", "--router-aux-loss-coef", "0.05", "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var steps = File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(2, steps.Count);
        // tiny-granite-moe-hybrid routes top-2 of 4 experts: the aux loss is 2 when balanced and at most 4.
        Assert.All(steps, s => Assert.InRange(s["aux_loss"]!.GetValue<double>(), 1.0, 4.0));
        Assert.Equal(0.05, TrainerState.Read(Path.Combine(output, "trainer_state.json")).RouterAuxLossCoef);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json"))),
            JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))), "the checkpoint's config.json differs from the model's");

        CliRunner.AssertUserError(CliRunner.Run("train", "--data", data, "--out", output, "--resume", "--steps", "3", "--router-aux-loss-coef", "0.1"),
            "--router-aux-loss-coef comes from the checkpoint");
        var resumed = CliRunner.Run("train", "--data", data, "--out", output, "--resume", "--steps", "3", "--no-progress");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.NotNull(JsonNode.Parse(File.ReadAllLines(Path.Combine(output, "metrics.jsonl"))[2])!["aux_loss"]);
    }

    [Fact]
    public void WithoutTheFlagOrOutputRouterLogitsTheAuxLossIsOff()
    {
        string output = Path.Combine(_dir, "out");
        var r = CliRunner.Run("train", "--model", Fixtures.Model("tiny-granite-moe-hybrid"), "--data", Data(), "--out", output, "--steps", "1",
            "--batch-tokens", "24", "--eval-fraction", "0", "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Null(JsonNode.Parse(File.ReadAllLines(Path.Combine(output, "metrics.jsonl"))[0])!["aux_loss"]);
        Assert.Equal(0, TrainerState.Read(Path.Combine(output, "trainer_state.json")).RouterAuxLossCoef);
    }

    [Fact]
    public void TheProgressLineShowsTheAuxLossAfterTheLossWhenItIsOn()
    {
        var entry = new LogEntry { Step = 3, Loss = 5.25, LearningRate = 1e-3, GradNorm = 0.5, TokensPerSecond = 100 };
        string Line(LogEntry e)
        {
            var text = new StringWriter();
            new ProgressReporter(text).Step(e, 3);
            return text.ToString();
        }
        Assert.StartsWith("step 3/3  loss 5.2500  lr", Line(entry));
        Assert.StartsWith("step 3/3  loss 5.2500  aux 2.0312  lr", Line(entry with { AuxLoss = 2.03121 }));
    }

    [Theory]
    [InlineData("tiny-granite-moe-hybrid", "-0.1", "--router-aux-loss-coef expects a number")]
    [InlineData("tiny-granite-moe-hybrid", "lots", "--router-aux-loss-coef expects a number")]
    [InlineData("tiny-granite-moe-hybrid", "1e39", "--router-aux-loss-coef expects a number")]
    [InlineData("tiny-nemotron-h", "0.01", "has no router auxiliary loss in transformers")]
    [InlineData("tiny-bamba", "0.01", "no routed experts")]
    public void ABadValueOrAModelWithoutTheLossIsOneLine(string model, string value, string message)
    {
        var r = CliRunner.Run("train", "--model", Fixtures.Model(model), "--data", Data(), "--out", Path.Combine(_dir, "o"),
            "--router-aux-loss-coef", value);
        CliRunner.AssertUserError(r, message);
    }
}

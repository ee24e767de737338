using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Bamba.Tests.Cli;
using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary>
/// What a training run shows and keeps: live progress only on a terminal, metrics.jsonl, the log history in
/// trainer_state.json, loss.svg and `bamba plot`, evaluations every N steps, and a checkpoint when Ctrl-C stops it.
/// </summary>
public sealed class TrainingRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config => Path.Combine(Fixtures.Model("tiny-bamba"), "config.json");

    private string[] TrainArgs(string output, int steps, params string[] more) =>
    [
        "train", "--config", Config, "--data", TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 12, vocab: 40, seed: 3),
        "--out", output, "--steps", steps.ToString(), "--batch-tokens", "64", "--eval-fraction", "0.25", "--eval-tokens", "64", .. more,
    ];

    [Fact]
    public void MetricsLogHistoryAndPlotRecordEveryStepAndEvaluation()
    {
        string output = Path.Combine(_dir, "run");
        var r = CliRunner.Run(TrainArgs(output, 6, "--eval-every", "3"));
        Assert.True(r.ExitCode == 0, r.Stderr);

        var lines = File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal([1, 2, 3, 4, 5, 6], lines.Where(l => l.ContainsKey("loss")).Select(l => (int)l["step"]!));
        Assert.Equal([0, 3, 6], lines.Where(l => l.ContainsKey("eval_loss")).Select(l => (int)l["step"]!)); // step 0, every 3, and the end
        foreach (var step in lines.Where(l => l.ContainsKey("loss")))
            foreach (var key in new[] { "learning_rate", "grad_norm", "tokens_per_second" }) Assert.True((double)step[key]! > 0, key);
        var state = TrainerState.Read(Path.Combine(output, Checkpoint.StateFile));
        Assert.Equal(lines.Count, state.LogHistory.Count);
        Assert.Equal(state.EvalLoss, state.LogHistory[^1].EvalLoss);
        Assert.Contains("\"log_history\"", File.ReadAllText(Path.Combine(output, Checkpoint.StateFile)));

        AssertLossPlot(Path.Combine(output, "loss.svg"));
        File.Delete(Path.Combine(output, "loss.svg"));
        var plot = CliRunner.Run("plot", output);
        Assert.True(plot.ExitCode == 0, plot.Stderr);
        Assert.Contains("6 steps, 3 evaluations", plot.Stdout);
        AssertLossPlot(Path.Combine(output, "loss.svg"));
    }

    /// <summary>Valid SVG with two data series, drawn in two colours, and their two legend entries.</summary>
    private static void AssertLossPlot(string path)
    {
        var svg = XDocument.Load(path);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var texts = svg.Descendants(ns + "text").Select(t => t.Value.Trim()).ToList();
        Assert.Contains("training loss", texts);
        Assert.Contains("held-out loss", texts);
        // Data marks are drawn inside the plot area's clip group; grid and frame lines are grey.
        var seriesColours = svg.Descendants(ns + "g").Where(g => g.Attribute("clip-path") is not null)
            .Descendants().Select(e => e.Attribute("stroke")?.Value ?? e.Attribute("fill")?.Value)
            .Where(c => c is not null && c != "none" && c != "#010101").Distinct().ToList();
        Assert.Equal(2, seriesColours.Count);
    }

    [Fact]
    public void PlotOfADirectoryWithoutMetricsIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("plot", _dir), "metrics.jsonl: file not found");

    [Fact]
    public void ProgressIsLiveOnlyOnATerminal()
    {
        var onTerminal = CliProcess.Run(TrainArgs(Path.Combine(_dir, "a"), 12), terminal: true);
        Assert.True(onTerminal.ExitCode == 0, onTerminal.Stdout);
        Assert.Contains("\e[", onTerminal.Stdout);           // ANSI drawing
        Assert.Contains("━", onTerminal.Stdout);             // the progress bar
        Assert.Contains("100%", onTerminal.Stdout);

        var redirected = CliProcess.Run(TrainArgs(Path.Combine(_dir, "b"), 12), terminal: false);
        Assert.True(redirected.ExitCode == 0, redirected.Stderr);
        Assert.DoesNotContain("\e", redirected.Stderr + redirected.Stdout);
        Assert.Contains("step 10/12  loss", redirected.Stderr); // plain lines every 10 steps and at the end
        Assert.Contains("step 12/12  loss", redirected.Stderr);
        Assert.DoesNotContain("step 11/12", redirected.Stderr);

        var plain = CliProcess.Run(TrainArgs(Path.Combine(_dir, "c"), 12, "--no-progress"), terminal: true);
        Assert.True(plain.ExitCode == 0, plain.Stdout);
        Assert.DoesNotContain("━", plain.Stdout);
        Assert.Contains("step 10/12  loss", plain.Stdout);
    }

    [Fact]
    public void CtrlCSavesACheckpointThatResumes()
    {
        string output = Path.Combine(_dir, "stopped");
        using var process = CliProcess.Start(TrainArgs(output, 100000, "--no-progress"), terminal: false);
        var stderr = new System.Text.StringBuilder();
        var firstStep = new TaskCompletionSource();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data?.StartsWith("step 10/", StringComparison.Ordinal) == true) firstStep.TrySetResult();
        };
        process.BeginErrorReadLine();
        string stdout = "";
        try
        {
            Assert.True(firstStep.Task.Wait(TimeSpan.FromMinutes(2)), "no progress line: " + stderr);
            Process.Start("kill", ["-INT", process.Id.ToString()])!.WaitForExit();
            stdout = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "did not stop after SIGINT");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        Assert.Equal(130, process.ExitCode);
        var state = TrainerState.Read(Path.Combine(output, Checkpoint.StateFile));
        Assert.InRange(state.Step, 10, 99999);
        Assert.Contains($"stopped at step {state.Step} of 100000", stdout);
        Assert.Equal(state.Step, state.LogHistory.Count(e => e.Loss is not null));
        Assert.True(File.Exists(Path.Combine(output, "metrics.jsonl")));

        var resumed = CliRunner.Run("train", "--data", Path.Combine(_dir, "ids.jsonl"), "--out", output, "--resume", "--steps", (state.Step + 2).ToString());
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal(state.Step + 2, TrainerState.Read(Path.Combine(output, Checkpoint.StateFile)).LogHistory.Count(e => e.Loss is not null));
    }
}

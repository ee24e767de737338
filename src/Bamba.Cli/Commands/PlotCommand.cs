using Bamba.Cli.Training;

namespace Bamba.Cli.Commands;

/// <summary><c>bamba plot RUN_DIR [--out FILE]</c>: redraws a training run's loss.svg from its metrics.jsonl.</summary>
internal sealed class PlotCommand : ICommand
{
    public string Name => "plot";
    public string Summary => "draw a training run's loss curve (loss.svg) from its metrics.jsonl";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        Flag.Argument("RUN_DIR", "the --out directory of 'bamba train'"),
        new("out", "where to write the SVG", "FILE", "RUN_DIR/loss.svg"),
    ];
    public IReadOnlyList<string> Examples { get; } = ["bamba plot run", "bamba plot models/default --out /tmp/loss.svg"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = args.String("RUN_DIR") ?? throw new BambaException("name the run directory: bamba plot RUN_DIR");
        string output = args.String("out") ?? Path.Combine(dir, RunFiles.Plot);
        args.EnsureAllUsed();
        var history = RunFiles.ReadMetrics(Path.Combine(dir, RunFiles.Metrics));
        if (!history.Any(e => e.Loss is not null || e.EvalLoss is not null))
            throw new BambaException($"{Path.Combine(dir, RunFiles.Metrics)}: no loss values to plot");
        LossPlot.Save(history, output);
        stdout.WriteLine($"wrote {output}: {history.Count(e => e.Loss is not null)} steps, {history.Count(e => e.EvalLoss is not null)} evaluations");
        return 0;
    }
}

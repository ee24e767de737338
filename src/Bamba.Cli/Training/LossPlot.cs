using Bamba.Training;
using ScottPlot;

namespace Bamba.Cli.Training;

/// <summary>The training curve as an SVG: the training loss per step and the held-out loss at each evaluation.</summary>
internal static class LossPlot
{
    public static void Save(IReadOnlyList<LogEntry> history, string path)
    {
        var plot = new Plot();
        var train = history.Where(e => e.Loss is not null).ToList();
        var eval = history.Where(e => e.EvalLoss is not null).ToList();
        if (train.Count > 0)
        {
            var line = plot.Add.ScatterLine(train.Select(e => (double)e.Step).ToArray(), train.Select(e => e.Loss!.Value).ToArray());
            line.LegendText = "training loss";
        }
        if (eval.Count > 0)
        {
            var points = plot.Add.Scatter(eval.Select(e => (double)e.Step).ToArray(), eval.Select(e => e.EvalLoss!.Value).ToArray());
            points.LegendText = "held-out loss";
            points.MarkerSize = 7;
        }
        plot.Title("loss");
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SaveSvg(path, 800, 480);
    }
}

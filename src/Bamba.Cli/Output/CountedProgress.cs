using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Bamba.Cli.Output;

/// <summary>
/// Progress for work that counts items (tensors converted, calibration tokens): on a terminal a Spectre bar per stage
/// with the count, the rate and the time left; else <c>prefix: stage done/total (rate/s)</c> lines on stderr, at most
/// one every half second per stage, and always the stage's last, so logs show the work moving without flooding.
/// </summary>
internal static class CountedProgress
{
    /// <summary>What the work calls as it goes: the stage's name (its unit, e.g. "tensors"), items done, items in all.</summary>
    public delegate void Report(string stage, int done, int total);

    public static void Run(bool live, string prefix, Action<Report> work) => Run(live, prefix, report => { work(report); return true; });

    public static T Run<T>(bool live, string prefix, Func<Report, T> work)
    {
        if (!live) return work(PlainLines(prefix, Console.Error));
        return LiveOutput.Stderr().Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var stages = new Stages();
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                return work((stage, done, total) =>
                {
                    double seconds = stages.Seconds(stage);
                    if (!tasks.TryGetValue(stage, out var task)) tasks[stage] = task = context.AddTask(stage, maxValue: Math.Max(total, 1));
                    task.MaxValue = Math.Max(total, 1);
                    task.Value = done;
                    task.Description = Markup.Escape(Line(prefix, stage, done, total, seconds));
                });
            });
    }

    /// <summary>The plain reporter: throttled lines on <paramref name="output"/> (stderr; tests pass their own).</summary>
    internal static Report PlainLines(string prefix, TextWriter output)
    {
        var stages = new Stages();
        var shown = new Dictionary<string, double>(StringComparer.Ordinal);
        return (stage, done, total) =>
        {
            double seconds = stages.Seconds(stage);
            if (done < total && shown.TryGetValue(stage, out double last) && seconds - last < 0.5) return;
            shown[stage] = seconds;
            output.WriteLine(Line(prefix, stage, done, total, seconds));
            output.Flush();
        };
    }

    internal static string Line(string prefix, string stage, int done, int total, double seconds) => string.Create(CultureInfo.InvariantCulture,
        $"{prefix}: {stage} {done}/{total} ({done / Math.Max(seconds, 1e-3):F1}/s)");

    /// <summary>
    /// Seconds since each stage began: the first at the start of the work, a later one when the report before its first
    /// came (its first item was being worked on since then), so the first rate shown is a real one.
    /// </summary>
    private sealed class Stages
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Dictionary<string, double> _start = new(StringComparer.Ordinal);
        private double _previous;

        public double Seconds(string stage)
        {
            double now = _clock.Elapsed.TotalSeconds;
            if (!_start.TryGetValue(stage, out double start)) _start[stage] = start = _previous;
            _previous = now;
            return now - start;
        }
    }
}

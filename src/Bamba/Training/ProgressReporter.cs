using System.Diagnostics;

namespace Bamba.Training;

/// <summary>
/// Plain progress lines for logs: step, loss, learning rate, gradient norm, tokens/s and ETA, every
/// <c>every</c>-th step and at the last. (The command line draws a live display instead on a terminal.)
/// </summary>
public sealed class ProgressReporter(TextWriter output, int every = 1) : ITrainingProgress
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _steps;

    public void Step(LogEntry entry, int totalSteps)
    {
        _steps++;
        if (entry.Step % every != 0 && entry.Step != totalSteps) return;
        double eta = _clock.Elapsed.TotalSeconds / _steps * (totalSteps - entry.Step);
        output.WriteLine($"step {entry.Step}/{totalSteps}  {Losses(entry)}  lr {entry.LearningRate:E2}  |g| {entry.GradNorm:F2}  " +
                         $"{entry.TokensPerSecond:F0} tok/s  ETA {Format(eta)}");
        output.Flush();
    }

    public void Message(string text)
    {
        output.WriteLine(text);
        output.Flush();
    }

    /// <summary>The step's LM loss, and its router auxiliary loss when that is on.</summary>
    public static string Losses(LogEntry entry) => entry.AuxLoss is double aux ? $"loss {entry.Loss:F4}  aux {aux:F4}" : $"loss {entry.Loss:F4}";

    public static string Format(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m" : $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s";
}

using System.Diagnostics;

namespace Bamba.Training;

/// <summary>
/// One progress line per step on stderr: step, loss, learning rate, tokens/s and ETA. On a terminal the line is
/// redrawn in place with <c>\r</c>; redirected to a file it prints plain lines (every <c>every</c>-th step).
/// </summary>
public sealed class ProgressReporter(TextWriter output, bool isTerminal, int totalSteps, int every = 1)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _tokens;
    private int _steps;
    private bool _lineOpen;

    public void Step(int step, double loss, float lr, double gradNorm, int tokens)
    {
        _tokens += tokens;
        _steps++;
        double seconds = _clock.Elapsed.TotalSeconds;
        double tokensPerSecond = _tokens / Math.Max(seconds, 1e-9);
        double eta = seconds / _steps * (totalSteps - step);
        string line = $"step {step}/{totalSteps}  loss {loss:F4}  lr {lr:E2}  |g| {gradNorm:F2}  {tokensPerSecond:F0} tok/s  ETA {Format(eta)}";
        if (isTerminal) { output.Write("\r" + line.PadRight(100)); _lineOpen = true; }
        else if (step % every == 0 || step == totalSteps) output.WriteLine(line);
        output.Flush();
    }

    public void Message(string text)
    {
        if (_lineOpen) { output.WriteLine(); _lineOpen = false; }
        output.WriteLine(text);
        output.Flush();
    }

    public static string Format(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m" : $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s";
}

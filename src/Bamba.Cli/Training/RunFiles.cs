using System.Text.Json;
using Bamba.Training;

namespace Bamba.Cli.Training;

/// <summary>
/// The files a training run keeps beside its checkpoint: metrics.jsonl (one JSON object per step or evaluation,
/// the entries of trainer_state.json's log_history) and loss.svg (<see cref="LossPlot"/>).
/// </summary>
internal static class RunFiles
{
    public const string Metrics = "metrics.jsonl";
    public const string Plot = "loss.svg";
    public static readonly string[] Names = [Metrics, Plot];

    public static void Write(string directory, IReadOnlyList<LogEntry> history)
    {
        File.WriteAllLines(Path.Combine(directory, Metrics), history.Select(e => JsonSerializer.Serialize(e, TrainingLogJson.Default.LogEntry)));
        if (history.Count == 0) return;
        try { LossPlot.Save(history, Path.Combine(directory, Plot)); }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
        {
            // A machine without the plotting library's native part (SkiaSharp) still trains and checkpoints.
            if (!_warned) Console.Error.WriteLine($"bamba train: loss.svg is not drawn: the plotting library could not load ({Innermost(e).Message.Split('\n')[0]}); metrics.jsonl has every value");
            _warned = true;
        }
    }

    private static bool _warned;

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    public static IReadOnlyList<LogEntry> ReadMetrics(string path)
    {
        var entries = new List<LogEntry>();
        foreach (var (line, obj) in JsonLines.Read(path))
        {
            try { entries.Add(obj.Deserialize(TrainingLogJson.Default.LogEntry)!); }
            catch (JsonException e) { throw new BambaException($"{path}:{line}: not a metrics entry ({e.Message})"); }
        }
        return entries;
    }
}

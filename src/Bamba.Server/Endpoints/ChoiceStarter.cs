using Bamba.Generation.Scheduling;
using Bamba.Serving;

namespace Bamba.Server.Endpoints;

/// <summary>Submits all choices of a request, or none: if one is refused (queue full), the others are withdrawn.</summary>
internal static class ChoiceStarter
{
    public static List<ChoiceRun> StartAll(ServingEngine engine, IReadOnlyCollection<SequenceRequest> requests, string[] stops, CancellationToken cancel)
    {
        // Not a 429: retrying a request the server can never hold at once would go on for ever, even when it is idle.
        var options = engine.Scheduler.Options;
        if (requests.Count > options.MostSequences)
            throw ApiException.BadValue("n", $"the request needs {requests.Count} sequences at once (prompts × n); this server holds at most " +
                $"{options.MostSequences} ({options.MaxBatch} running, {options.MaxQueue} queued): send fewer prompts or a smaller n");
        var runs = new List<ChoiceRun>();
        try
        {
            foreach (var r in requests) runs.Add(engine.Start(r, stops, cancel));
            return runs;
        }
        catch
        {
            foreach (var run in runs) run.Dispose();
            throw;
        }
    }

    public static void DisposeAll(IEnumerable<ChoiceRun> runs)
    {
        foreach (var run in runs) run.Dispose();
    }

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}

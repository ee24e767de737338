using System.Threading.Channels;
using Bamba.Serving;

namespace Bamba.Server;

/// <summary>One event of one choice of a request: a delta, or its end.</summary>
internal sealed record ChoiceEvent(int Index, ChoiceDelta? Delta, ChoiceEnd? End);

/// <summary>Interleaves the events (counting generated tokens in the request's record) of a request's choices as they happen (one SSE stream carries them all).</summary>
internal static class ChoiceEvents
{
    public static async IAsyncEnumerable<ChoiceEvent> Merge(IReadOnlyList<ChoiceRun> runs, RequestRecord record, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        var channel = Channel.CreateUnbounded<ChoiceEvent>();
        var readers = runs.Select((run, index) => Pump(run, index, record, channel.Writer, cancel)).ToArray();
        _ = Task.WhenAll(readers).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var e in channel.Reader.ReadAllAsync(cancel).ConfigureAwait(false)) yield return e;
    }

    /// <summary>Runs every choice to its end without streaming; returns each choice's deltas and end.</summary>
    public static Task<(List<ChoiceDelta> Deltas, ChoiceEnd End)[]> CollectAll(IReadOnlyList<ChoiceRun> runs, RequestRecord record, CancellationToken cancel) =>
        Task.WhenAll(runs.Select(async run =>
        {
            var deltas = new List<ChoiceDelta>();
            await foreach (var d in run.ReadAsync(cancel).ConfigureAwait(false))
            {
                if (d.Token is not null) record.Token();
                deltas.Add(d);
            }
            return (deltas, await run.EndAsync().ConfigureAwait(false));
        }));

    private static async Task Pump(ChoiceRun run, int index, RequestRecord record, ChannelWriter<ChoiceEvent> writer, CancellationToken cancel)
    {
        await foreach (var d in run.ReadAsync(cancel).ConfigureAwait(false))
        {
            if (d.Token is not null) record.Token();
            await writer.WriteAsync(new ChoiceEvent(index, d, null), cancel);
        }
        await writer.WriteAsync(new ChoiceEvent(index, null, await run.EndAsync().ConfigureAwait(false)), cancel);
    }
}

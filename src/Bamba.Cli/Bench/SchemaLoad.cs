using System.Diagnostics;
using Bamba.Generation;
using Bamba.Generation.Constraints;
using Bamba.Generation.Scheduling;

namespace Bamba.Cli.Bench;

/// <summary>
/// One pass of the schema workload: how fast the batch decodes. <see cref="DecodeTokensPerSecond"/> counts only the
/// window in which every request is decoding (from the last first token to the first request's end), so prefill is
/// left out and the batch is whole throughout.
/// </summary>
internal sealed record SchemaLoadResult(string Label, int Requests, long OutputTokens, double WallSeconds,
    double OutputTokensPerSecond, double DecodeWindowSeconds, long DecodeTokens, double DecodeTokensPerSecond, int CompletedDocuments);

/// <summary>
/// The cost of constrained decoding in the scheduler as a server runs it: <c>requests</c> sequences submitted at once
/// (temperature 1, seeded, no end token), each with a fixed random prompt, plain or under a JSON schema's grammar.
/// Runs straight on the engine's scheduler, so the figures are the server's own, not an HTTP client's.
/// </summary>
internal sealed class SchemaLoad(ContinuousBatchScheduler scheduler, int promptTokens, int maxTokens)
{
    /// <param name="pass">Picks the prompts' seeds: each pass sends prompts of its own, so the prefix cache serves none.</param>
    public async Task<SchemaLoadResult> RunAsync(string label, int pass, int requests, TokenGrammar? grammar)
    {
        var clock = Stopwatch.StartNew();
        var runs = await Task.WhenAll(Enumerable.Range(0, requests).Select(i => OneAsync(Request(pass, i, grammar), clock)));
        double wall = clock.Elapsed.TotalSeconds;
        double from = runs.Max(r => r.Times[0]), to = runs.Min(r => r.Times[^1]);
        long decode = runs.Sum(r => (long)r.Times.Count(t => t > from && t <= to));
        long output = runs.Sum(r => (long)r.Times.Count);
        return new SchemaLoadResult(label, requests, output, wall, output / wall, to - from, decode,
            to > from ? decode / (to - from) : double.NaN, runs.Count(r => r.Finish == SequenceFinish.Stop));
    }

    private SequenceRequest Request(int pass, int i, TokenGrammar? grammar)
    {
        var random = new Random(10_000 * (pass + 1) + i);
        int vocab = scheduler.Model.Config.VocabSize;
        return new SequenceRequest
        {
            Prompt = [.. Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, vocab))],
            MaxNewTokens = maxTokens, EosTokenIds = [], Grammar = grammar,
            Sampling = new SamplingOptions { Temperature = 1, Seed = (ulong)i },
        };
    }

    /// <summary>The time of each token as it arrives, and how the sequence ended (a failed step throws: a benchmark stops there).</summary>
    private async Task<(List<double> Times, SequenceFinish Finish)> OneAsync(SequenceRequest request, Stopwatch clock)
    {
        using var handle = scheduler.Submit(request);
        var times = new List<double>();
        await foreach (var _ in handle.Tokens.ReadAllAsync().ConfigureAwait(false)) times.Add(clock.Elapsed.TotalSeconds);
        return (times, (await handle.Completion.ConfigureAwait(false)).Finish);
    }
}

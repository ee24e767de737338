using System.Diagnostics;
using Bamba.Generation;
using Bamba.Generation.Constraints;
using Bamba.Generation.Scheduling;

namespace Bamba.Cli.Bench;

/// <summary>
/// One pass of the schema workload. The decode figures count only the scheduler's decode steps, timed by the scheduler
/// itself (the model, the masks, sampling and the grammar's advance): steps after every request has its first token in
/// which each of them got one more, so prefill is left out and the batch is whole throughout.
/// </summary>
internal sealed record SchemaLoadResult(string Label, int Requests, long OutputTokens, double WallSeconds, double OutputTokensPerSecond,
    int DecodeSteps, double DecodeSeconds, long DecodeTokens, double DecodeTokensPerSecond, double DecodeMsPerStep, int CompletedDocuments);

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
        using var steps = new DecodeSteps(scheduler.Metrics, requests);
        var clock = Stopwatch.StartNew();
        var runs = await Task.WhenAll(Enumerable.Range(0, requests).Select(i => scheduler.RunAsync(Request(pass, i, grammar))));
        double wall = clock.Elapsed.TotalSeconds;
        long output = runs.Sum(r => (long)r.Tokens.Length);
        return new SchemaLoadResult(label, requests, output, wall, output / wall, steps.Steps, steps.Seconds, steps.Tokens,
            steps.Tokens / steps.Seconds, steps.Seconds * 1000 / steps.Steps, runs.Count(r => r.Result.Finish == SequenceFinish.Stop));
    }

    private SequenceRequest Request(int pass, int i, TokenGrammar? grammar)
    {
        var random = new Random(10_000 * (pass + 1) + i);
        int vocab = scheduler.Model.Tokens.VocabSize;
        return new SequenceRequest
        {
            Prompt = [.. Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, vocab))],
            MaxNewTokens = maxTokens, EosTokenIds = [], Grammar = grammar,
            Sampling = new SamplingOptions { Temperature = 1, Seed = (ulong)i },
        };
    }

    /// <summary>
    /// Listens to the scheduler's metrics while a pass runs (the events come on the scheduler thread, in order: a step's
    /// first-token observations, then its duration): a step counts when every request had its first token before it
    /// began and each got a token in it.
    /// </summary>
    private sealed class DecodeSteps : IDisposable
    {
        private readonly SchedulerMetrics _metrics;
        private readonly int _requests;
        private long _generatedBefore;
        private int _firstTokens;
        private bool _allStarted;

        public DecodeSteps(SchedulerMetrics metrics, int requests)
        {
            _metrics = metrics;
            _requests = requests;
            _generatedBefore = metrics.GeneratedTokensTotal;
            metrics.TimeToFirstToken.Observed += OnFirstToken;
            metrics.StepDuration.Observed += OnStep;
        }

        public int Steps { get; private set; }
        public double Seconds { get; private set; }
        public long Tokens { get; private set; }

        private void OnFirstToken(double _) => _firstTokens++;

        private void OnStep(double seconds)
        {
            long total = _metrics.GeneratedTokensTotal, generated = total - _generatedBefore;
            _generatedBefore = total;
            if (_allStarted && generated == _requests)
            {
                Steps++;
                Seconds += seconds;
                Tokens += generated;
            }
            _allStarted = _firstTokens >= _requests;
        }

        public void Dispose()
        {
            _metrics.TimeToFirstToken.Observed -= OnFirstToken;
            _metrics.StepDuration.Observed -= OnStep;
        }
    }
}

using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Tests.Modeling;

namespace Bamba.Tests.Scheduling;

/// <summary>The continuous-batching scheduler without HTTP: parity with the generator, batch invariance, scoring, limits.</summary>
public class SchedulerTests
{
    private static BambaModel Tiny() => BambaModel.Load(Fixtures.Model("tiny-bamba"));

    internal static int[] Prompt(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(3, 512)).ToArray();
    }

    [Fact]
    public async Task GreedyTokensMatchTheFixtureWithChunkedPrefill()
    {
        using var model = Tiny();
        using var reference = new Reference("tiny-bamba");
        var greedy = reference.Json.GetProperty("greedy");
        var expected = Reference.Ints(greedy.GetProperty("new_tokens"));
        // A chunk of 3 cuts the prompt mid-way, so prefill runs over several steps.
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { PrefillChunk = 3, MaxStepTokens = 8 });

        var (tokens, result) = await scheduler.RunAsync(new SequenceRequest
        { Prompt = Reference.Ints(greedy.GetProperty("prompt")), MaxNewTokens = expected.Length, EosTokenIds = [] });

        Assert.Equal(expected, tokens.Select(t => t.Id).ToArray());
        Assert.Equal(SequenceFinish.Length, result.Finish);
        Assert.Equal(expected.Length, result.GeneratedTokens);
    }

    [Fact]
    public async Task GreedyResultsDoNotDependOnTheBatch()
    {
        using var model = Tiny();
        var options = new SchedulerOptions { MaxBatch = 8, PrefillChunk = 8, MaxStepTokens = 24 };
        var requests = Enumerable.Range(0, 24).Select(i => new SequenceRequest
        { Prompt = Prompt(1 + i * 3 % 40, i), MaxNewTokens = 2 + i % 9, EosTokenIds = [] }).ToArray();

        int[][] alone;
        using (var scheduler = new ContinuousBatchScheduler(model, options))
        {
            alone = new int[requests.Length][];
            for (int i = 0; i < requests.Length; i++) alone[i] = (await scheduler.RunAsync(requests[i])).Tokens.Select(t => t.Id).ToArray();
        }
        using (var scheduler = new ContinuousBatchScheduler(model, options))
        {
            var together = await Task.WhenAll(requests.Select(r => scheduler.RunAsync(r)));
            for (int i = 0; i < requests.Length; i++) Assert.Equal(alone[i], together[i].Tokens.Select(t => t.Id).ToArray());
            Assert.True(scheduler.Metrics.StepsTotal < requests.Sum(r => r.MaxNewTokens), "sequences should have shared steps");
        }
    }

    [Fact]
    public async Task PromptScoresEqualAFullForwardPass()
    {
        using var model = Tiny();
        var prompt = Prompt(21, 7);
        var full = model.Forward([model.CreateState()], [prompt], new ForwardOptions { AllLogits = true }).Logits;
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { PrefillChunk = 5, MaxStepTokens = 5 });

        var (tokens, result) = await scheduler.RunAsync(new SequenceRequest { Prompt = prompt, MaxNewTokens = 0, PromptLogprobs = true, TopLogprobs = 3 });

        Assert.Empty(tokens);
        var scores = result.PromptScores!;
        Assert.Null(scores.Logprobs[0]);
        for (int t = 1; t < prompt.Length; t++)
        {
            var expected = Sampler.LogSoftmax(full.AsSpan((t - 1) * 512, 512));
            Assert.Equal(expected[prompt[t]], scores.Logprobs[t]!.Value, 4);
            Assert.Equal(Sampler.ArgMax(full.AsSpan((t - 1) * 512, 512)), scores.TopLogprobs[t][0].Id);
            Assert.Equal(3, scores.TopLogprobs[t].Length);
        }
    }

    [Fact]
    public async Task GeneratedLogprobsAreTheLogSoftmaxOfTheLogits()
    {
        using var model = Tiny();
        var prompt = Prompt(6, 3);
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions());
        var (tokens, _) = await scheduler.RunAsync(new SequenceRequest { Prompt = prompt, MaxNewTokens = 1, Logprobs = true, TopLogprobs = 2, EosTokenIds = [] });

        var logits = model.Step([model.CreateState()], [prompt])[0];
        var expected = Sampler.LogSoftmax(logits);
        Assert.Equal(expected[tokens[0].Id], tokens[0].Logprob, 6);
        Assert.Equal(tokens[0].Id, tokens[0].TopLogprobs[0].Id); // greedy picks the top token
        Assert.True(tokens[0].TopLogprobs[0].Logprob >= tokens[0].TopLogprobs[1].Logprob);
    }

    [Fact]
    public async Task CancelledSequencesFreeTheirSlots()
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxBatch = 2 });
        using var cancel = new CancellationTokenSource();
        var handles = Enumerable.Range(0, 6).Select(i => scheduler.Submit(
            new SequenceRequest { Prompt = Prompt(4, i), MaxNewTokens = 4000, EosTokenIds = [] }, cancel.Token)).ToArray();
        await handles[0].Tokens.ReadAsync(); // the first is running
        cancel.Cancel();

        var results = await Task.WhenAll(handles.Select(h => h.Completion));

        Assert.All(results, r => Assert.Equal(SequenceFinish.Cancelled, r.Finish));
        await WaitIdle(scheduler);
        Assert.Equal(0, scheduler.Metrics.KvBlocksUsed);
        Assert.Equal(0, scheduler.Metrics.StateBytes);
        Assert.Equal(6, scheduler.Metrics.RequestsCancelled);
    }

    [Fact]
    public void AFullQueueRefusesWithARetryHint()
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxBatch = 1, MaxQueue = 2 });
        var request = new SequenceRequest { Prompt = [5, 6], MaxNewTokens = 4000, EosTokenIds = [] };
        var handles = new List<SequenceHandle>();
        var error = Assert.Throws<SchedulerFullException>(() => { for (int i = 0; i < 10; i++) handles.Add(scheduler.Submit(request)); });
        Assert.True(error.RetryAfter >= TimeSpan.FromSeconds(1));
        Assert.InRange(handles.Count, 2, 3); // two waiting, maybe one already admitted
        foreach (var h in handles) h.Dispose();
    }

    [Theory]
    [InlineData(new int[0], 4, "empty")]
    [InlineData(new[] { 1, 512 }, 4, "outside the vocabulary")]
    [InlineData(new[] { 1, 2 }, 99, "exceeds the context")]
    public void RequestsTheModelCannotRunAreRefused(int[] prompt, int maxNew, string message)
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxContext = 100 });
        var error = Assert.Throws<BambaException>(() => scheduler.Submit(new SequenceRequest { Prompt = prompt, MaxNewTokens = maxNew }));
        Assert.Contains(message, error.Message);
    }

    internal static async Task WaitIdle(ContinuousBatchScheduler scheduler)
    {
        for (int i = 0; i < 200 && (scheduler.Metrics.RunningSequences > 0 || scheduler.Metrics.QueueLength > 0); i++) await Task.Delay(25);
        Assert.Equal(0, scheduler.Metrics.RunningSequences);
        Assert.Equal(0, scheduler.Metrics.QueueLength);
    }
}

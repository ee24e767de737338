using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;

namespace Bamba.Tests.Scheduling;

/// <summary>
/// The scheduler's prefix cache against a scheduler without one: greedy tokens equal token for token, whatever the
/// cache served, plus the hit counts that show it served something, and the budget under pressure.
/// </summary>
public class PrefixCacheTests
{
    private const int Chunk = 16;

    private static BambaModel Tiny() => BambaModel.Load(Fixtures.Model("tiny-bamba"));

    private static SchedulerOptions Options(long cacheBytes, int maxBatch = 8) => new()
    { MaxBatch = maxBatch, MaxQueue = 512, PrefillChunk = Chunk, MaxStepTokens = 4 * Chunk, MaxContext = 512, PrefixCacheBytes = cacheBytes };

    private static SequenceRequest Request(int[] prompt, int newTokens = 6) => new() { Prompt = prompt, MaxNewTokens = newTokens, EosTokenIds = [] };

    private static int[] Concat(params int[][] parts) => parts.SelectMany(p => p).ToArray();

    private static async Task<int[]> Run(ContinuousBatchScheduler scheduler, SequenceRequest request) =>
        (await scheduler.RunAsync(request)).Tokens.Select(t => t.Id).ToArray();

    /// <summary>Each request alone through a scheduler with no cache: the oracle.</summary>
    private static async Task<int[]> Oracle(BambaModel model, SequenceRequest request)
    {
        using var plain = new ContinuousBatchScheduler(model, Options(0));
        return await Run(plain, request);
    }

    [Fact]
    public async Task SharedSystemPromptAcrossConcurrentRequests()
    {
        using var model = Tiny();
        var system = SchedulerTests.Prompt(100, 1);
        var requests = Enumerable.Range(0, 12).Select(i => Request(Concat(system, SchedulerTests.Prompt(5 + i * 3, 100 + i)))).ToArray();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));

        var first = await Run(scheduler, requests[0]);
        var rest = await Task.WhenAll(requests.Skip(1).Select(r => Run(scheduler, r)));

        Assert.Equal(await Oracle(model, requests[0]), first);
        for (int i = 1; i < requests.Length; i++) Assert.Equal(await Oracle(model, requests[i]), rest[i - 1]);
        // Each later request resumes at least at the last grid point inside the shared 100 tokens.
        Assert.True(scheduler.Metrics.PrefixHitTokens >= 11 * 96, $"hit tokens {scheduler.Metrics.PrefixHitTokens}");
        Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
    }

    /// <summary>
    /// Requests that arrive together with one system prompt: the first prefills it, the others wait for its cache point
    /// instead of prefilling the same tokens beside it (the multi-turn replay's first turn), and every output is exact.
    /// </summary>
    [Fact]
    public async Task RequestsArrivingTogetherWaitForTheSharedPromptsCachePoint()
    {
        using var model = Tiny();
        var system = SchedulerTests.Prompt(100, 1);
        var requests = Enumerable.Range(0, 6).Select(i => Request(Concat(system, SchedulerTests.Prompt(5 + i * 3, 200 + i)))).ToArray();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));

        var outputs = await Task.WhenAll(requests.Select(r => Run(scheduler, r)));

        for (int i = 0; i < requests.Length; i++) Assert.Equal(await Oracle(model, requests[i]), outputs[i]);
        Assert.True(scheduler.Metrics.PrefixHitTokens >= 5 * 96, $"hit tokens {scheduler.Metrics.PrefixHitTokens}");
        Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
    }

    [Fact]
    public async Task MultiTurnReplaysResumeAtTheEndOfTheLastReply()
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));
        var history = SchedulerTests.Prompt(37, 2);
        for (int turn = 0; turn < 5; turn++)
        {
            if (turn > 0) history = Concat(history, SchedulerTests.Prompt(9 + turn * 7, 20 + turn));
            var request = Request(history, 8);
            long hitsBefore = scheduler.Metrics.PrefixHitTokens;

            var reply = await Run(scheduler, request);

            Assert.Equal(await Oracle(model, request), reply);
            if (turn > 0)
            {
                // The previous turn's state was kept after its reply's last fed token (the last token is not fed).
                int previous = history.Length - (9 + turn * 7);
                Assert.Equal(previous - 1, scheduler.Metrics.PrefixHitTokens - hitsBefore);
            }
            history = Concat(history, reply);
        }
    }

    [Theory]
    [InlineData(40)] // the first prompt ends inside a chunk
    [InlineData(48)] // and on a grid point
    public async Task PrefixesEndingInsideAChunkOrOnABoundary(int length)
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));
        var first = SchedulerTests.Prompt(length, 3);
        var second = Request(Concat(first, SchedulerTests.Prompt(30, 4)));

        await Run(scheduler, Request(first));
        long hits = scheduler.Metrics.PrefixHitTokens;
        var tokens = await Run(scheduler, second);

        Assert.Equal(await Oracle(model, second), tokens);
        Assert.Equal(length, scheduler.Metrics.PrefixHitTokens - hits);
    }

    [Fact]
    public async Task AWholePromptSeenBeforeStillFeedsItsLastToken()
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));
        var request = Request(SchedulerTests.Prompt(64, 5));

        var first = await Run(scheduler, request);
        var again = await Run(scheduler, request);

        Assert.Equal(first, again);
        Assert.Equal(48, scheduler.Metrics.PrefixHitTokens); // the last grid point before the 64th token
    }

    [Fact]
    public async Task CancellationMidPrefillKeepsTheCacheExact()
    {
        using var model = Tiny();
        // The scheduler stops inside its fourth step (three 16-token chunks cached) until the request is cancelled, so
        // the cancel lands mid-prefill however fast the machine is (polling the metrics raced the prefill's end).
        using var paused = new PausingModel(model, pauseAfter: 4);
        using var scheduler = new ContinuousBatchScheduler(paused, Options(64 << 20) with { MaxStepTokens = Chunk });
        var prompt = SchedulerTests.Prompt(300, 6);
        var handle = scheduler.Submit(Request(prompt));
        await paused.Paused.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(scheduler.Metrics.PrefixCachePoints >= 3, $"{scheduler.Metrics.PrefixCachePoints} cache points when paused");
        handle.Cancel();
        paused.Resume();
        var result = await handle.Completion;
        Assert.Equal(SequenceFinish.Cancelled, result.Finish);

        var request = Request(Concat(prompt[..200], SchedulerTests.Prompt(20, 7)));
        var tokens = await Run(scheduler, request);

        Assert.Equal(await Oracle(model, request), tokens);
        Assert.True(scheduler.Metrics.PrefixHitTokens >= 3 * Chunk, $"hit tokens {scheduler.Metrics.PrefixHitTokens}");
        Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
    }

    [Fact]
    public async Task PromptScoringRequestsStartFromTokenZero()
    {
        using var model = Tiny();
        using var scheduler = new ContinuousBatchScheduler(model, Options(64 << 20));
        var prompt = SchedulerTests.Prompt(50, 8);
        await Run(scheduler, Request(prompt));
        long hits = scheduler.Metrics.PrefixHitTokens;

        var (_, result) = await scheduler.RunAsync(Request(prompt, 0) with { PromptLogprobs = true });

        Assert.Equal(hits, scheduler.Metrics.PrefixHitTokens);
        Assert.All(result.PromptScores!.Logprobs.Skip(1), l => Assert.NotNull(l));
    }

    [Fact]
    public async Task EvictionUnderPressureKeepsTheBudgetAndReturnsEverything()
    {
        using var model = Tiny();
        // A budget of a few dozen points, far less than 200 conversations' worth.
        long segmentBytes;
        using (var probe = model.CreateState())
        {
            model.Step([probe], [SchedulerTests.Prompt(Chunk, 0)]);
            segmentBytes = probe.Capture(0).Bytes;
        }
        long budget = 40 * segmentBytes;
        var system = SchedulerTests.Prompt(40, 9);
        var conversations = Enumerable.Range(0, 200).Select(i => (First: Concat(system, SchedulerTests.Prompt(3 + i % 20, 1000 + i)),
            Second: SchedulerTests.Prompt(4 + i % 7, 2000 + i))).ToArray();

        async Task<int[][]> Replay(ContinuousBatchScheduler s) => await Task.WhenAll(conversations.Select(async c =>
        {
            var reply = await Run(s, Request(c.First, 4));
            return Concat(reply, await Run(s, Request(Concat(c.First, reply, c.Second), 4)));
        }));

        int[][] expected;
        using (var plain = new ContinuousBatchScheduler(model, Options(0, maxBatch: 16))) expected = await Replay(plain);
        using var scheduler = new ContinuousBatchScheduler(model, Options(budget, maxBatch: 16));
        var actual = await Replay(scheduler);

        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i]);
        var m = scheduler.Metrics;
        Assert.True(m.PrefixEvictions > 0, "the budget should have forced evictions");
        Assert.True(m.PrefixCachePeakBytes <= budget, $"peak {m.PrefixCachePeakBytes} over the budget {budget}");
        Assert.True(m.PrefixHitTokens > 0);
        Assert.Equal(0, m.PrefixCachePinned);
        Assert.Equal(0, m.RunningSequences);
        Assert.Equal(0, m.KvBlocksUsed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RandomInterleavingsMatchANoCacheOracle(int seed)
    {
        using var model = Tiny();
        var random = new Random(seed);
        var prefixes = Enumerable.Range(0, 4).Select(i => SchedulerTests.Prompt(random.Next(1, 70), seed * 100 + i)).ToArray();
        var requests = Enumerable.Range(0, 40).Select(i =>
        {
            var prefix = prefixes[random.Next(prefixes.Length)];
            var prompt = Concat(prefix[..random.Next(1, prefix.Length + 1)], SchedulerTests.Prompt(random.Next(0, 30), seed * 1000 + i));
            return (Request: Request(prompt, random.Next(1, 8)), CancelAfterMs: random.Next(4) == 0 ? random.Next(0, 20) : -1);
        }).ToArray();
        // Small enough that points are evicted as the requests go.
        using var scheduler = new ContinuousBatchScheduler(model, Options(1 << 20, maxBatch: 4));

        var runs = await Task.WhenAll(requests.Select(async r =>
        {
            await Task.Delay(random.Next(0, 10));
            using var cancel = new CancellationTokenSource();
            if (r.CancelAfterMs >= 0) cancel.CancelAfter(r.CancelAfterMs);
            var (tokens, result) = await scheduler.RunAsync(r.Request, cancel.Token);
            return (Tokens: tokens.Select(t => t.Id).ToArray(), result.Finish);
        }));

        for (int i = 0; i < requests.Length; i++)
        {
            var expected = await Oracle(model, requests[i].Request);
            if (runs[i].Finish == SequenceFinish.Cancelled) Assert.Equal(expected[..runs[i].Tokens.Length], runs[i].Tokens);
            else Assert.Equal(expected, runs[i].Tokens);
        }
        Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
        Assert.True(scheduler.Metrics.PrefixCachePeakBytes <= 1 << 20);
    }

    /// <summary>Steps through its inner model, but holds the scheduler inside step <c>pauseAfter</c> until <see cref="Resume"/>.</summary>
    private sealed class PausingModel(ISequenceModel inner, int pauseAfter) : ISequenceModel
    {
        private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _resume = new();
        private int _steps;

        public Task Paused => _paused.Task;
        public void Resume() => _resume.Set();
        public TokenSpace Tokens => inner.Tokens;
        public SequenceState CreateState() => inner.CreateState();

        public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
        {
            if (++_steps == pauseAfter)
            {
                _paused.SetResult();
                _resume.Wait();
            }
            return inner.Step(states, inputs);
        }

        public void Dispose() => _resume.Dispose(); // the inner model belongs to the test
    }
}

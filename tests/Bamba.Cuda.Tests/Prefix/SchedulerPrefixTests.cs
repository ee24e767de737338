using Bamba.Backends.Cuda;
using Bamba.Generation;
using Bamba.Generation.Scheduling;

namespace Bamba.Cuda.Tests.Prefix;

/// <summary>
/// The scheduler's prefix cache on the GPU against a scheduler without one: greedy tokens equal token for token, the
/// hit counts show the cache served them, and under a tiny budget every snapshot and KV block comes back.
/// </summary>
public class SchedulerPrefixTests
{
    private const int Chunk = 16;
    /// <summary>Room for about a hundred points (a snapshot counts as whole 2 MiB pages, however small): no evictions.</summary>
    private const long Roomy = 256 << 20;

    private static SchedulerOptions Options(long cacheBytes, int maxBatch = 8) => new()
    { MaxBatch = maxBatch, MaxQueue = 512, PrefillChunk = Chunk, MaxStepTokens = 4 * Chunk, MaxContext = 512, PrefixCacheBytes = cacheBytes };

    private static SequenceRequest Request(int[] prompt, int newTokens = 6) => new() { Prompt = prompt, MaxNewTokens = newTokens, EosTokenIds = [] };

    private static int[] Concat(params int[][] parts) => parts.SelectMany(p => p).ToArray();

    private static int[] Prompt(CudaModel model, int length, int seed) => SnapshotStateTests.Tokens(length, seed, model.Config.VocabSize);

    private static async Task<int[]> Run(ContinuousBatchScheduler scheduler, SequenceRequest request) =>
        (await scheduler.RunAsync(request)).Tokens.Select(t => t.Id).ToArray();

    /// <summary>Each request alone through a scheduler with no cache: the oracle.</summary>
    private static async Task<int[]> Oracle(CudaModel model, SequenceRequest request)
    {
        using var plain = new ContinuousBatchScheduler(model, Options(0));
        return await Run(plain, request);
    }

    /// <summary>After the scheduler is gone, the pool has every block back (its prefix cache released them).</summary>
    private static void AssertPoolWhole(CudaModel model) => Assert.Equal(model.KvBlocks, model.FreeKvBlocks);

    [Theory]
    [MemberData(nameof(SnapshotStateTests.Models), MemberType = typeof(SnapshotStateTests))]
    public async Task SharedSystemPromptAcrossConcurrentRequests(string name)
    {
        using var model = SnapshotStateTests.Load(name);
        var system = Prompt(model, 100, 1);
        var requests = Enumerable.Range(0, 12).Select(i => Request(Concat(system, Prompt(model, 5 + i * 3, 100 + i)))).ToArray();
        using (var scheduler = new ContinuousBatchScheduler(model, Options(Roomy)))
        {
            var first = await Run(scheduler, requests[0]);
            var rest = await Task.WhenAll(requests.Skip(1).Select(r => Run(scheduler, r)));

            Assert.Equal(await Oracle(model, requests[0]), first);
            for (int i = 1; i < requests.Length; i++) Assert.Equal(await Oracle(model, requests[i]), rest[i - 1]);
            Assert.True(scheduler.Metrics.PrefixHitTokens >= 11 * 96, $"hit tokens {scheduler.Metrics.PrefixHitTokens}");
            Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
        }
        AssertPoolWhole(model);
    }

    [Theory]
    [MemberData(nameof(SnapshotStateTests.Models), MemberType = typeof(SnapshotStateTests))]
    public async Task MultiTurnReplaysResumeAtTheEndOfTheLastReply(string name)
    {
        using var model = SnapshotStateTests.Load(name);
        using var scheduler = new ContinuousBatchScheduler(model, Options(Roomy));
        var history = Prompt(model, 37, 2);
        for (int turn = 0; turn < 5; turn++)
        {
            if (turn > 0) history = Concat(history, Prompt(model, 9 + turn * 7, 20 + turn));
            var request = Request(history, 8);
            long hitsBefore = scheduler.Metrics.PrefixHitTokens;

            var reply = await Run(scheduler, request);

            Assert.Equal(await Oracle(model, request), reply);
            if (turn > 0)
            {
                int previous = history.Length - (9 + turn * 7);
                Assert.Equal(previous - 1, scheduler.Metrics.PrefixHitTokens - hitsBefore);
            }
            history = Concat(history, reply);
        }
    }

    /// <summary>The first prompt ends inside a chunk and a KV block (40), on a grid point (48), on a block boundary (64)
    /// and inside the second block (100): the second request resumes there exactly.</summary>
    [Theory]
    [InlineData("tiny-bamba", 40)]
    [InlineData("tiny-bamba", 48)]
    [InlineData("tiny-bamba", 64)]
    [InlineData("tiny-granite-hybrid-dense-rope", 40)]
    [InlineData("tiny-granite-hybrid-dense-rope", 64)]
    [InlineData("tiny-granite-hybrid-dense-rope", 100)]
    public async Task PrefixesEndingInsideAChunkOrOnABoundary(string name, int length)
    {
        using var model = SnapshotStateTests.Load(name);
        using var scheduler = new ContinuousBatchScheduler(model, Options(Roomy));
        var first = Prompt(model, length, 3);
        var second = Request(Concat(first, Prompt(model, 30, 4)));

        await Run(scheduler, Request(first));
        long hits = scheduler.Metrics.PrefixHitTokens;
        var tokens = await Run(scheduler, second);

        Assert.Equal(await Oracle(model, second), tokens);
        Assert.Equal(length, scheduler.Metrics.PrefixHitTokens - hits);
    }

    [Theory]
    [MemberData(nameof(SnapshotStateTests.Models), MemberType = typeof(SnapshotStateTests))]
    public async Task CancellationMidPrefillKeepsTheCacheExact(string name)
    {
        using var model = SnapshotStateTests.Load(name);
        using (var scheduler = new ContinuousBatchScheduler(model, Options(Roomy) with { MaxStepTokens = Chunk }))
        {
            var prompt = Prompt(model, 300, 6);
            var handle = scheduler.Submit(Request(prompt), TestContext.Current.CancellationToken);
            while (scheduler.Metrics.PrefixCachePoints < 3) await Task.Delay(1, TestContext.Current.CancellationToken);
            handle.Cancel();
            Assert.Equal(SequenceFinish.Cancelled, (await handle.Completion).Finish);

            var request = Request(Concat(prompt[..200], Prompt(model, 20, 7)));
            var tokens = await Run(scheduler, request);

            Assert.Equal(await Oracle(model, request), tokens);
            Assert.True(scheduler.Metrics.PrefixHitTokens >= 3 * Chunk, $"hit tokens {scheduler.Metrics.PrefixHitTokens}");
            Assert.Equal(0, scheduler.Metrics.PrefixCachePinned);
        }
        AssertPoolWhole(model);
    }

    /// <summary>
    /// 200 two-turn conversations under a budget of a few dozen points: the same tokens as without the cache, the budget
    /// (and the blocks set aside in the pool) never passed, and every block back in the pool at the end.
    /// </summary>
    [Theory]
    [MemberData(nameof(SnapshotStateTests.Models), MemberType = typeof(SnapshotStateTests))]
    public async Task EvictionUnderPressureKeepsTheBudgetAndReturnsEverything(string name)
    {
        using var model = SnapshotStateTests.Load(name);
        long pointBytes;
        using (var probe = model.CreateState())
        {
            model.Step([probe], [Prompt(model, Chunk, 0)]);
            pointBytes = probe.CaptureSize(0).Bytes;
        }
        long budget = 40 * pointBytes;
        var system = Prompt(model, 40, 9);
        var conversations = Enumerable.Range(0, 200).Select(i => (First: Concat(system, Prompt(model, 3 + i % 20, 1000 + i)),
            Second: Prompt(model, 4 + i % 7, 2000 + i))).ToArray();

        async Task<int[][]> Replay(ContinuousBatchScheduler s) => await Task.WhenAll(conversations.Select(async c =>
        {
            var reply = await Run(s, Request(c.First, 4));
            return Concat(reply, await Run(s, Request(Concat(c.First, reply, c.Second), 4)));
        }));

        int[][] expected;
        using (var plain = new ContinuousBatchScheduler(model, Options(0, maxBatch: 16))) expected = await Replay(plain);
        using (var scheduler = new ContinuousBatchScheduler(model, Options(budget, maxBatch: 16)))
        {
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
        AssertPoolWhole(model);
    }

    /// <summary>Random shared-prefix requests, some cancelled, under a budget of about a dozen points: each matches a
    /// no-cache oracle (a cancelled one up to where it stopped).</summary>
    [Theory]
    [InlineData("tiny-bamba", 1)]
    [InlineData("tiny-granite-hybrid-dense-rope", 2)]
    public async Task RandomInterleavingsMatchANoCacheOracle(string name, int seed)
    {
        using var model = SnapshotStateTests.Load(name);
        var random = new Random(seed);
        var prefixes = Enumerable.Range(0, 4).Select(i => Prompt(model, random.Next(1, 140), seed * 100 + i)).ToArray();
        var requests = Enumerable.Range(0, 40).Select(i =>
        {
            var prefix = prefixes[random.Next(prefixes.Length)];
            var prompt = Concat(prefix[..random.Next(1, prefix.Length + 1)], Prompt(model, random.Next(0, 30), seed * 1000 + i));
            return (Request: Request(prompt, random.Next(1, 8)), CancelAfterMs: random.Next(4) == 0 ? random.Next(0, 20) : -1);
        }).ToArray();
        long budget;
        using (var probe = model.CreateState())
        {
            model.Step([probe], [Prompt(model, Chunk, 0)]);
            budget = 12 * probe.CaptureSize(0).Bytes;
        }
        using (var scheduler = new ContinuousBatchScheduler(model, Options(budget, maxBatch: 4)))
        {
            var runs = await Task.WhenAll(requests.Select(async r =>
            {
                await Task.Delay(random.Next(0, 10), TestContext.Current.CancellationToken);
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
            Assert.True(scheduler.Metrics.PrefixCachePeakBytes <= budget);
        }
        AssertPoolWhole(model);
    }
}

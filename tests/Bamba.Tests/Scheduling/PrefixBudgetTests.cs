using Bamba.Generation;
using Bamba.Generation.Scheduling;

namespace Bamba.Tests.Scheduling;

/// <summary>
/// The prefix cache's one budget where KV lives in a paged pool (CUDA): how it splits between pool blocks and
/// snapshots, and the trie's eviction keeping both shares, with segments that only count (no model).
/// </summary>
public class PrefixBudgetTests
{
    private const long Mib = 1L << 20;

    /// <summary>A segment of a given size that records whether the cache gave it back.</summary>
    private sealed class Counted(int start, int end, long snapshot, int blocks, long blockBytes) : StateSegment
    {
        private bool _recurrent = true;
        public override int Start => start;
        public override int End => end;
        public override bool HasRecurrent => _recurrent;
        public override long Bytes => (_recurrent ? snapshot : 0) + blocks * blockBytes;
        public override int Blocks => blocks;
        public bool Released { get; private set; }
        public override void DropRecurrent() => _recurrent = false;
        public override void Release() => Released = true;
    }

    [Fact]
    public void Bamba9BKeepsMostOfTheBudgetForSnapshots()
    {
        long block = 64 * (1 + 2L * 3 * 8 * 128 * 2), snapshot = 118 * Mib; // 3 attention layers in bf16; 29 Mamba layers' state
        var budget = PrefixBudget.Split(30L << 30, block, 64, snapshot, 256);

        Assert.True(budget.Blocks * block <= budget.Bytes);
        // A 256-token point holds 5 blocks (3.8 MiB) beside its 118 MiB snapshot: about 6 % of the budget goes to blocks.
        Assert.InRange(budget.Blocks * block / (double)budget.Bytes, 0.05, 0.08);
        Assert.Equal(budget.Bytes - budget.Blocks * block, budget.SnapshotBytes);
    }

    [Fact]
    public void WithoutAttentionEverythingIsSnapshotsAndWithoutStateEverythingIsBlocks()
    {
        Assert.Equal(new PrefixBudget(1000 * Mib, 0, 0), PrefixBudget.Split(1000 * Mib, 0, 64, 10 * Mib, 256));
        var kvOnly = PrefixBudget.Split(1000 * Mib, Mib, 64, 0, 256);
        Assert.Equal(1000, kvOnly.Blocks);
        Assert.Equal(0, kvOnly.SnapshotBytes);
    }

    /// <summary>Each point: a 150-byte snapshot and one 100-byte block, in a budget of 1000 bytes with 4 blocks set aside.</summary>
    [Fact]
    public void EvictionKeepsTheBlocksAndTheSnapshotsWithinTheirShares()
    {
        var metrics = new SchedulerMetrics();
        var cache = new PrefixCache(new PrefixBudget(1000, 4, 100), metrics);
        var root = cache.Lookup(0, [1]);
        var segments = new List<Counted>();
        for (int i = 0; i < 12; i++)
        {
            var segment = new Counted(0, 2, 150, 1, 100);
            Assert.NotNull(cache.Extend(root, [i + 10, 7], (segment.Bytes, 1), () => segment));
            segments.Add(segment);
            Assert.InRange(cache.Blocks, 1, 4);
            Assert.True(cache.Bytes <= 1000);
        }
        // The four most recent stay; every other was given back, least recently used first.
        Assert.All(segments[..8], s => Assert.True(s.Released));
        Assert.All(segments[8..], s => Assert.False(s.Released));
        Assert.Equal(8, metrics.PrefixEvictions);

        cache.Clear();
        Assert.All(segments, s => Assert.True(s.Released));
        Assert.Equal((0L, 0), (cache.Bytes, cache.Blocks));
    }

    /// <summary>Blocks run out before bytes do: points go though their bytes would fit.</summary>
    [Fact]
    public void TheBlocksSetAsideBindOnTheirOwn()
    {
        var cache = new PrefixCache(new PrefixBudget(1_000_000, 3, 10), new SchedulerMetrics());
        var root = cache.Lookup(0, [1]);
        var first = new Counted(0, 1, 1, 2, 10);
        cache.Extend(root, [5], (first.Bytes, 2), () => first);
        var second = new Counted(0, 1, 1, 2, 10);
        cache.Extend(root, [6], (second.Bytes, 2), () => second);

        Assert.True(first.Released);
        Assert.Equal(2, cache.Blocks);
    }

    /// <summary>A point larger than the budget is refused before it is captured (nothing allocated), and a point a
    /// running sequence extends is never evicted to make room.</summary>
    [Fact]
    public void RoomIsMadeBeforeCaptureAndNeverFromAPinnedPoint()
    {
        var cache = new PrefixCache(new PrefixBudget(1000, 4, 100), new SchedulerMetrics());
        var root = cache.Lookup(0, [1]);
        Assert.Null(cache.Extend(root, [5], (1100, 1), () => throw new InvalidOperationException("captured without room")));
        Assert.Null(cache.Extend(root, [5], (200, 5), () => throw new InvalidOperationException("captured without room")));

        var held = new Counted(0, 1, 500, 1, 100);
        var point = cache.Extend(root, [6], (held.Bytes, 1), () => held)!;
        point.Pins++; // a running sequence extends it
        Assert.Null(cache.Extend(root, [7], (600, 1), () => throw new InvalidOperationException("captured without room")));
        Assert.False(held.Released);
        point.Pins--;
        var next = new Counted(0, 1, 500, 1, 100);
        Assert.NotNull(cache.Extend(root, [7], (next.Bytes, 1), () => next));
        Assert.True(held.Released);
    }
}

using Bamba.Generation.Scheduling;

namespace Bamba.Tests.Scheduling;

/// <summary>Sizing a scheduler from device memory: pure arithmetic, checked with Bamba-9B's per-sequence figures.</summary>
public class MemoryPlanTests
{
    private const long Gib = 1L << 30, Mib = 1L << 20;
    // Bamba-9B in bf16 with an fp32 SSM state: 117 MiB of recurrent state, 12 KiB of KV (+ a padding byte) per token.
    private const long State9B = 117 * Mib, Kv9B = 12 * 1024 + 1;

    private static DeviceMemory Device(long free, long state = State9B, long kv = Kv9B) =>
        new(free, state, kv, rows => 200_000L * rows + 256 * Mib);

    private static readonly SchedulerOptions Serve = new() { MaxContext = 4096, PrefillChunk = 256 };

    [Fact]
    public void ALargeDeviceGetsTheSlotCapAndAllTheRestAsBlocks()
    {
        var plan = MemoryPlan.Size(Device(58 * Gib), Serve);
        var o = plan.Options;

        Assert.Equal(MemoryPlan.MaxSlots, o.MaxBatch);
        Assert.Equal(MemoryPlan.MaxSlots + 256, o.MaxStepTokens);
        Assert.Equal(plan.BudgetBytes / (16 * Kv9B), o.TotalKvBlocks);
        Assert.Equal((State9B + 16 * Kv9B - 1) / (16 * Kv9B), o.StateBlocks);
        Assert.Equal(58 * Gib - plan.WorkingBytes - Serve.PrefixCacheBytes, plan.BudgetBytes);
        // Every slot busy with its state still leaves KV for many long sequences; bytes never exceed the budget.
        Assert.True((long)o.TotalKvBlocks * plan.BlockBytes <= plan.BudgetBytes);
        Assert.True(o.TotalKvBlocks - o.MaxBatch * o.StateBlocks > 100 * 256);
        o.Validate();
    }

    /// <summary>Short requests may fill every slot while long ones are bounded by the bytes their KV and state take.</summary>
    [Fact]
    public void ASmallDeviceRunsManyShortOrFewLongSequences()
    {
        var o = MemoryPlan.Size(Device(4 * Gib), Serve).Options;

        int shortAtOnce = Math.Min(o.MaxBatch, o.TotalKvBlocks / o.SequenceBlocks(64));
        int longAtOnce = Math.Min(o.MaxBatch, o.TotalKvBlocks / o.SequenceBlocks(4096));
        Assert.True(o.MaxBatch < MemoryPlan.MaxSlots);
        Assert.Equal(o.MaxBatch, shortAtOnce);
        Assert.True(longAtOnce < shortAtOnce);
        Assert.True(longAtOnce >= 1);
        // The slots are exactly what fits beside one longest-context sequence's KV.
        Assert.True((long)o.MaxBatch * o.StateBlocks + 256 <= o.TotalKvBlocks);
        Assert.True((long)(o.MaxBatch + 1) * o.StateBlocks + 256 > o.TotalKvBlocks);
    }

    /// <summary>--max-step-tokens fixes the step whatever the slots, and the step's working memory is sized for it.</summary>
    [Fact]
    public void AnExplicitStepSizeIsKeptAndItsWorkingMemoryCounted()
    {
        var plan = MemoryPlan.Size(Device(58 * Gib), Serve, maxStepTokens: 2048);
        Assert.Equal(2048, plan.Options.MaxStepTokens);
        Assert.Equal(200_000L * 2048 + 256 * Mib, plan.WorkingBytes);
        Assert.Equal(2048, MemoryPlan.Size(Device(58 * Gib), Serve, maxBatch: 40, maxStepTokens: 2048).Options.MaxStepTokens);
    }

    [Fact]
    public void AnExplicitMaxBatchWinsWhenItFits()
    {
        var o = MemoryPlan.Size(Device(58 * Gib), Serve, maxBatch: 40).Options;
        Assert.Equal(40, o.MaxBatch);
        Assert.Equal(40 + 256, o.MaxStepTokens);
        Assert.True(o.StateBlocks > 0);
    }

    [Fact]
    public void AnExplicitMaxBatchThatDoesNotFitNamesTheNumbers()
    {
        var e = Assert.Throws<BambaException>(() => MemoryPlan.Size(Device(4 * Gib), Serve, maxBatch: 300));
        Assert.Contains("--max-batch 300 does not fit in GPU memory: 300 × 117.00 MiB of recurrent state", e.Message);
        Assert.Matches(@"at most \d+ fit", e.Message);
    }

    /// <summary>A batch whose step alone outgrows the memory is refused with the most that fit, not as "not one fits".</summary>
    [Fact]
    public void AHugeMaxBatchIsRefusedWithTheMostThatFit()
    {
        var e = Assert.Throws<BambaException>(() => MemoryPlan.Size(Device(58 * Gib, state: Mib), Serve, maxBatch: 100_000_000));
        Assert.StartsWith("--max-batch 100000000 does not fit in GPU memory", e.Message);
        int most = int.Parse(System.Text.RegularExpressions.Regex.Match(e.Message, @"at most (\d+) fit").Groups[1].Value);
        Assert.True(most > MemoryPlan.MaxSlots);
        Assert.Equal(most, MemoryPlan.Size(Device(58 * Gib, state: Mib), Serve, maxBatch: most).Options.MaxBatch);
        Assert.Throws<BambaException>(() => MemoryPlan.Size(Device(58 * Gib, state: Mib), Serve, maxBatch: most + 1));
    }

    [Fact]
    public void NotOneSequenceFittingIsAnError()
    {
        var e = Assert.Throws<BambaException>(() => MemoryPlan.Size(Device(300 * Mib), Serve));
        Assert.Contains("not one sequence of 4096 tokens fits in GPU memory", e.Message);
        Assert.Contains("--max-context", e.Message);
    }

    [Fact]
    public void WithoutAttentionOnlyTheSlotsAreSized()
    {
        var o = MemoryPlan.Size(Device(2 * Gib, kv: 0), Serve).Options;
        Assert.Null(o.KvBlocks);
        Assert.Equal(0, o.StateBlocks);
        Assert.Equal((2 * Gib - (200_000L * (256 + 256) + 256 * Mib) - Serve.PrefixCacheBytes) / State9B, o.MaxBatch);
    }

    /// <summary>The prefix cache's budget comes out of device memory before the slots and blocks are sized.</summary>
    [Fact]
    public void ThePrefixCacheBudgetIsTakenOutFirst()
    {
        var without = MemoryPlan.Size(Device(58 * Gib), Serve with { PrefixCacheBytes = 0 });
        var with = MemoryPlan.Size(Device(58 * Gib), Serve with { PrefixCacheBytes = 10 * Gib });

        Assert.Equal(without.BudgetBytes - 10 * Gib, with.BudgetBytes);
        Assert.True((long)with.Options.TotalKvBlocks * with.BlockBytes <= with.BudgetBytes);
        Assert.Equal(58 * Gib / 4, MemoryPlan.DefaultPrefixCacheBytes(Device(58 * Gib)));
        Assert.Contains("10.00 GiB for the prefix cache", with.Summary());
    }

    [Fact]
    public void TheSummaryNamesSlotsBlocksAndMemory()
    {
        string text = MemoryPlan.Size(Device(58 * Gib), Serve).Summary();
        Assert.StartsWith("256 sequence slots (117.00 MiB of recurrent state each); ", text);
        Assert.Contains("blocks of 16 tokens", text);
        Assert.Contains("sequences of 4096 tokens at once", text);
        Assert.Contains("GiB free", text);
    }

    /// <summary>
    /// With state blocks, a request's reservation is its KV blocks plus its state's; the blocks must hold every slot's
    /// state beside one sequence of the longest context (a paged KV cache is allocated beside all the states).
    /// </summary>
    [Fact]
    public void StateBlocksCountInTheSchedulersBudget()
    {
        var options = new SchedulerOptions { MaxBatch = 4, MaxContext = 32, KvBlockSize = 16, StateBlocks = 3, KvBlocks = 14 };
        options.Validate();
        Assert.Equal(5, options.SequenceBlocks(32));
        var e = Assert.Throws<BambaException>(() => (options with { KvBlocks = 13 }).Validate());
        Assert.Contains("beside the recurrent states of 4 slots", e.Message);
        Assert.Equal(4 * 5, (options with { KvBlocks = null }).TotalKvBlocks);
    }

    /// <summary>The KV alone stays within what is left beside every slot's state, however few slots are in use.</summary>
    [Fact]
    public void TheKvAloneStaysWithinWhatIsLeftBesideEverySlotsState()
    {
        var budget = new KvBlockBudget(new SchedulerOptions { MaxBatch = 4, MaxContext = 32, KvBlockSize = 16, StateBlocks = 3, KvBlocks = 14 });
        Assert.Equal(2, budget.KvTotal);
        Assert.True(budget.TryReserve(32, out int first)); // 2 KV blocks + 3 for the state
        Assert.False(budget.TryReserve(16, out _));        // 9 of 14 blocks, but 3 of KV
        budget.Release(first);
        Assert.True(budget.TryReserve(16, out _));
        Assert.Equal(4, budget.Used);
    }
}

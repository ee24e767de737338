using System.Globalization;

namespace Bamba.Generation.Scheduling;

/// <summary>What sizing a scheduler from device memory needs to know of the device and the model.</summary>
/// <param name="FreeBytes">Device memory free now, with the weights loaded.</param>
/// <param name="StateBytes">One sequence's recurrent state (conv windows and SSM states of every Mamba layer): fixed.</param>
/// <param name="KvBytesPerToken">One cached token's keys and values over every attention layer (0 without attention).</param>
/// <param name="StepWorkingBytes">Scratch a step of that many token rows needs (activations, logits, GEMM workspace).</param>
public sealed record DeviceMemory(long FreeBytes, long StateBytes, long KvBytesPerToken, Func<int, long> StepWorkingBytes);

/// <summary>
/// A scheduler sized from device memory. One budget of blocks counts every byte a running sequence holds: its KV (a
/// block per <see cref="SchedulerOptions.KvBlockSize"/> tokens) and its recurrent state
/// (<see cref="SchedulerOptions.StateBlocks"/> blocks), in the memory left after the weights and the largest step's
/// working memory and the prefix cache's budget (<see cref="SchedulerOptions.PrefixCacheBytes"/>, its snapshots and
/// shared KV blocks taken out first). Slots: as many sequences as fit with their recurrent state while one sequence of the longest
/// context and the working memory of a step over all of them still fit beside them (at most <see cref="MaxSlots"/>);
/// blocks: all that memory. So short requests run many at a time, and long ones as many as their KV allows.
/// </summary>
public sealed record MemoryPlan
{
    /// <summary>The most slots sized automatically (vLLM's default max_num_seqs): every slot lengthens every step.</summary>
    public const int MaxSlots = 256;

    public required SchedulerOptions Options { get; init; }
    public required long FreeBytes { get; init; }
    public required long WorkingBytes { get; init; }
    public required long StateBytes { get; init; }
    public required long KvBytesPerToken { get; init; }
    /// <summary>The step's token budget when the user fixed it (serve's --max-step-tokens); null: the slots plus one chunk.</summary>
    public int? FixedStepTokens { get; init; }

    /// <summary>Bytes the budget covers: free memory less the step's working memory and the prefix cache's budget.</summary>
    public long BudgetBytes => FreeBytes - WorkingBytes - Options.PrefixCacheBytes;

    /// <summary>
    /// The prefix cache's budget when none is given: a quarter of the device memory free with the weights loaded, so the
    /// sequences running keep the rest (a multi-turn server's snapshots of Bamba-9B are 117 MiB each: a quarter of an
    /// H200 holds a few hundred).
    /// </summary>
    public static long DefaultPrefixCacheBytes(DeviceMemory memory) => Math.Max(0, memory.FreeBytes / 4);
    public long BlockBytes => KvBytesPerToken * Options.KvBlockSize;

    /// <summary>
    /// Sizes <paramref name="options"/> (all but its slots and blocks as given) for <paramref name="memory"/>;
    /// <paramref name="maxBatch"/>, when given, fixes the slots; <paramref name="maxStepTokens"/>, when given, the tokens of
    /// a step (otherwise the slots plus one prefill chunk). Throws when not one sequence of the longest context fits,
    /// or when the slots asked for do not fit.
    /// </summary>
    public static MemoryPlan Size(DeviceMemory memory, SchedulerOptions options, int? maxBatch = null, int? maxStepTokens = null)
    {
        int most = MostSlots(memory, options, Math.Max(maxBatch ?? 0, MaxSlots), maxStepTokens);
        if (most == 0)
        {
            var one = For(memory, options, 1, maxStepTokens);
            throw new BambaException($"not one sequence of {options.MaxContext} tokens fits in GPU memory: {one.Describe(1)} > {one.Left()}; lower --max-context");
        }
        if (maxBatch > most)
        {
            var asked = For(memory, options, maxBatch.Value, maxStepTokens);
            throw new BambaException($"--max-batch {maxBatch} does not fit in GPU memory: {asked.Describe(maxBatch.Value)} > {asked.Left()}; at most {most} fit");
        }
        int slots = maxBatch ?? Math.Min(MaxSlots, most);
        var plan = For(memory, options, slots, maxStepTokens);
        return plan with { Options = plan.Sized(slots) };
    }

    /// <summary>
    /// The most slots, up to <paramref name="limit"/>, whose states fit beside one longest-context sequence and the working
    /// memory of their own largest step (which grows with them unless fixed: MaxStepTokens = slots + chunk); by bisection,
    /// as more slots never leave room for more.
    /// </summary>
    private static int MostSlots(DeviceMemory memory, SchedulerOptions options, int limit, int? stepTokens)
    {
        int low = 0, high = limit;
        while (low < high)
        {
            int mid = low + (high - low + 1) / 2;
            if (For(memory, options, mid, stepTokens).SlotsThatFit() >= mid) low = mid;
            else high = mid - 1;
        }
        return low;
    }

    private static MemoryPlan For(DeviceMemory memory, SchedulerOptions options, int slots, int? stepTokens) => new()
    {
        Options = options, FreeBytes = memory.FreeBytes, FixedStepTokens = stepTokens,
        WorkingBytes = memory.StepWorkingBytes(stepTokens ?? (int)Math.Min(int.MaxValue, (long)slots + options.PrefillChunk)),
        StateBytes = memory.StateBytes, KvBytesPerToken = memory.KvBytesPerToken,
    };

    /// <summary>How many recurrent states fit beside one longest-context sequence's KV, counted as the budget counts them.</summary>
    private long SlotsThatFit()
    {
        if (BlockBytes == 0) return StateBytes == 0 ? long.MaxValue : BudgetBytes / StateBytes;
        long context = ContextBlocks, state = StateBlocks;
        if (Blocks < state + context) return 0;
        return state == 0 ? long.MaxValue : (Blocks - context) / state;
    }

    /// <summary>The budget in blocks (with attention): all the bytes it covers.</summary>
    private long Blocks => Math.Min(int.MaxValue, Math.Max(0, BudgetBytes) / BlockBytes);
    /// <summary>Blocks one recurrent state takes, rounded up.</summary>
    private long StateBlocks => (StateBytes + BlockBytes - 1) / BlockBytes;
    private long ContextBlocks => (Options.MaxContext + Options.KvBlockSize - 1) / Options.KvBlockSize;

    /// <summary>The options with these slots, the step's token budget for them and (with attention) the byte budget in blocks.</summary>
    private SchedulerOptions Sized(int slots)
    {
        var sized = Options with { MaxBatch = slots, MaxStepTokens = FixedStepTokens ?? Math.Max(Options.PrefillChunk, slots + Options.PrefillChunk) };
        // Without attention there is no KV to budget: the slots alone bound the memory, and the default blocks never bind.
        return BlockBytes == 0
            ? sized with { KvBlocks = null, StateBlocks = 0 }
            : sized with { KvBlocks = (int)Blocks, StateBlocks = (int)StateBlocks };
    }

    /// <summary><paramref name="slots"/> recurrent states and one longest-context sequence's KV, with their bytes.</summary>
    private string Describe(long slots) =>
        $"{slots} × {Mib(StateBytes)} of recurrent state + {Mib(ContextBlocks * BlockBytes)} of KV for {Options.MaxContext} tokens = {Gib(slots * StateBytes + ContextBlocks * BlockBytes)}";

    private string Left() => $"{Gib(Math.Max(0, BudgetBytes))} left of {Gib(FreeBytes)} free after {Gib(WorkingBytes)} of step working memory"
        + (Options.PrefixCacheBytes > 0 ? $" and {Gib(Options.PrefixCacheBytes)} for the prefix cache (--prefix-cache-gb)" : "");

    /// <summary>The startup line: slots, the block budget and what it holds.</summary>
    public string Summary()
    {
        var o = Options;
        string kv = BlockBytes == 0
            ? "no attention KV to budget"
            : $"{o.TotalKvBlocks} blocks of {o.KvBlockSize} tokens ({Mib(BlockBytes)} of KV each), a sequence's recurrent state counting as {o.StateBlocks}: "
              + $"{((long)o.TotalKvBlocks - (long)o.MaxBatch * o.StateBlocks) * o.KvBlockSize} KV tokens with every slot in use, "
              + $"{Math.Min(o.MaxBatch, o.TotalKvBlocks / o.SequenceBlocks(o.MaxContext))} sequences of {o.MaxContext} tokens at once";
        return $"{o.MaxBatch} sequence slots ({Mib(StateBytes)} of recurrent state each); {kv}; {Gib(BudgetBytes)} budgeted of {Gib(FreeBytes)} free, "
            + $"{Gib(WorkingBytes)} kept for a step of {o.MaxStepTokens} tokens, {Gib(o.PrefixCacheBytes)} for the prefix cache";
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.00 GiB", CultureInfo.InvariantCulture);

    /// <summary>In MiB, or KiB below one (a small model's KV block).</summary>
    private static string Mib(long bytes) => bytes < 1L << 20
        ? (bytes / 1024.0).ToString("0.00 KiB", CultureInfo.InvariantCulture)
        : (bytes / (double)(1L << 20)).ToString("0.00 MiB", CultureInfo.InvariantCulture);
}

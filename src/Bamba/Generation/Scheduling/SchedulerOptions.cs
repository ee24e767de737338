namespace Bamba.Generation.Scheduling;

/// <summary>Limits of a <see cref="ContinuousBatchScheduler"/>.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Sequences advanced together in one model step (state slots).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Requests waiting for a slot; one more is refused (<see cref="SchedulerFullException"/>).</summary>
    public int MaxQueue { get; init; } = 256;
    /// <summary>Prompt tokens one sequence feeds per step; a prompt is always cut at multiples of this, whatever the load.</summary>
    public int PrefillChunk { get; init; } = 64;
    /// <summary>Tokens (decode + prefill) in one step, so a long prompt does not stall the decoding sequences.</summary>
    public int MaxStepTokens { get; init; } = 256;
    /// <summary>Longest sequence (prompt + generated tokens) a request may ask for.</summary>
    public int MaxContext { get; init; } = 4096;
    /// <summary>Tokens per KV block: attention memory is budgeted in blocks of this size.</summary>
    public int KvBlockSize { get; init; } = 16;
    /// <summary>KV blocks shared by all running sequences; null = enough for MaxBatch sequences of MaxContext tokens.</summary>
    public int? KvBlocks { get; init; }
    /// <summary>
    /// Blocks each running sequence's recurrent (Mamba) state takes from the same budget, on top of its KV blocks: 0 (the
    /// default) budgets KV alone; sizing from device memory (<see cref="MemoryPlan"/>) sets it, so that one budget counts
    /// every byte a sequence holds.
    /// </summary>
    public int StateBlocks { get; init; }

    /// <summary>
    /// Bytes the prefix cache may hold (state snapshots and KV rows of earlier requests' prefixes, see
    /// <see cref="PrefixCache"/>); 0 turns it off. On a GPU it is device memory, taken out of what <see cref="MemoryPlan"/>
    /// gives the running sequences, and split between shared KV pool blocks and recurrent snapshots (<see cref="PrefixBudget"/>).
    /// </summary>
    public long PrefixCacheBytes { get; init; } = DefaultPrefixCacheBytes;

    public const long DefaultPrefixCacheBytes = 512L << 20;

    /// <summary>The most sequences held at once, running and queued: a request of more could never be admitted.</summary>
    public long MostSequences => (long)MaxBatch + MaxQueue;

    public int TotalKvBlocks => KvBlocks ?? (int)Math.Min(int.MaxValue, (long)MaxBatch * SequenceBlocks(MaxContext));

    /// <summary>Blocks a sequence of <paramref name="tokens"/> tokens reserves: its KV rows and its recurrent state.</summary>
    public int SequenceBlocks(int tokens) => checked((int)(((long)tokens + KvBlockSize - 1) / KvBlockSize + StateBlocks));

    /// <summary>The most slots a scheduler takes: each is a state held in memory, and each lengthens every step.</summary>
    public const int MaxBatchLimit = 65536;
    /// <summary>The longest context: token counts stay far from int overflow whatever a request adds to them.</summary>
    public const int MaxContextLimit = 1 << 24;

    public void Validate()
    {
        if (MaxBatch is < 1 or > MaxBatchLimit) throw new BambaException($"max batch must be in [1, {MaxBatchLimit}], got {MaxBatch}");
        if (MaxQueue < 0) throw new BambaException($"max queue must be ≥ 0, got {MaxQueue}");
        if (PrefillChunk < 1) throw new BambaException($"prefill chunk must be ≥ 1, got {PrefillChunk}");
        if (MaxContext > MaxContextLimit) throw new BambaException($"max context must be ≤ {MaxContextLimit}, got {MaxContext}");
        if (MaxStepTokens < PrefillChunk) throw new BambaException($"max step tokens ({MaxStepTokens}) must be ≥ the prefill chunk ({PrefillChunk})");
        if (MaxContext < 2) throw new BambaException($"max context must be ≥ 2, got {MaxContext}");
        if (KvBlockSize < 1) throw new BambaException($"KV block size must be ≥ 1, got {KvBlockSize}");
        if (PrefixCacheBytes < 0) throw new BambaException($"the prefix cache budget must be ≥ 0 bytes, got {PrefixCacheBytes}");
        if (StateBlocks < 0) throw new BambaException($"state blocks must be ≥ 0, got {StateBlocks}");
        // Every slot's state and one sequence of the longest context: a paged cache holds the KV beside all the states.
        if (TotalKvBlocks - (long)MaxBatch * StateBlocks < SequenceBlocks(MaxContext) - StateBlocks)
            throw new BambaException($"{TotalKvBlocks} KV blocks of {KvBlockSize} tokens cannot hold one sequence of {MaxContext} tokens"
                + (StateBlocks > 0 ? $" beside the recurrent states of {MaxBatch} slots ({StateBlocks} blocks each)" : ""));
    }
}

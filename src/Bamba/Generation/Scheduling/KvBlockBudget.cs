namespace Bamba.Generation.Scheduling;

/// <summary>
/// Attention KV memory counted in blocks of a fixed number of tokens. A sequence reserves blocks for its prompt plus
/// max_tokens when it is admitted, so running sequences can never outgrow the budget mid-generation (no preemption
/// needed). Mamba state does not grow: it takes no blocks, or a fixed number per sequence where the options say so
/// (<see cref="SchedulerOptions.StateBlocks"/>). The KV alone never passes <see cref="KvTotal"/>, what is left with every
/// slot's state counted: a paged KV cache allocated up front holds that much beside the states of all slots.
/// </summary>
internal sealed class KvBlockBudget(SchedulerOptions options)
{
    public int Total { get; } = options.TotalKvBlocks;
    public int KvTotal { get; } = options.TotalKvBlocks - options.MaxBatch * options.StateBlocks;
    public int Used { get; private set; }
    private int _kvUsed;

    public int BlocksFor(int tokens) => options.SequenceBlocks(tokens);

    public bool TryReserve(int tokens, out int reserved)
    {
        reserved = BlocksFor(tokens);
        int kv = reserved - options.StateBlocks;
        if ((long)Used + reserved > Total || (long)_kvUsed + kv > KvTotal) { reserved = 0; return false; }
        Used += reserved;
        _kvUsed += kv;
        return true;
    }

    public void Release(int reserved)
    {
        Used -= reserved;
        _kvUsed -= reserved - options.StateBlocks;
    }
}

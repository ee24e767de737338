namespace Bamba.Generation.Scheduling;

/// <summary>
/// Attention KV memory counted in blocks of a fixed number of tokens. A sequence reserves blocks for its prompt plus
/// max_tokens when it is admitted, so running sequences can never outgrow the budget mid-generation (no preemption
/// needed). Mamba state does not grow: it takes no blocks, or a fixed number per sequence where the options say so
/// (<see cref="SchedulerOptions.StateBlocks"/>).
/// </summary>
internal sealed class KvBlockBudget(SchedulerOptions options)
{
    public int Total { get; } = options.TotalKvBlocks;
    public int Used { get; private set; }

    public int BlocksFor(int tokens) => options.SequenceBlocks(tokens);

    public bool TryReserve(int tokens, out int reserved)
    {
        reserved = BlocksFor(tokens);
        if (Used + reserved > Total) { reserved = 0; return false; }
        Used += reserved;
        return true;
    }

    public void Release(int reserved) => Used -= reserved;
}

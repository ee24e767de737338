namespace Bamba.Generation.Scheduling;

/// <summary>
/// Attention KV memory counted in blocks of a fixed number of tokens. A sequence reserves blocks for its prompt plus
/// max_tokens when it is admitted, so running sequences can never outgrow the budget mid-generation (no preemption
/// needed); Mamba layers need no blocks since their state does not grow.
/// </summary>
internal sealed class KvBlockBudget(int blocks, int blockSize)
{
    public int Total => blocks;
    public int Used { get; private set; }

    public int BlocksFor(int tokens) => (tokens + blockSize - 1) / blockSize;

    public bool TryReserve(int tokens, out int reserved)
    {
        reserved = BlocksFor(tokens);
        if (Used + reserved > blocks) { reserved = 0; return false; }
        Used += reserved;
        return true;
    }

    public void Release(int reserved) => Used -= reserved;
}

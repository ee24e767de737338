namespace Bamba.Generation;

/// <summary>
/// A model whose attention KV cache is one pool of blocks shared by its sequences (the CUDA backend's): a caller that
/// knows the load sizes the pool once, up front, so no sequence reallocates it mid-generation.
/// </summary>
public interface IPagedKvCache
{
    /// <summary>Room for <paramref name="sequences"/> sequences of at most <paramref name="longest"/> tokens each, holding
    /// <paramref name="tokens"/> tokens together, and <paramref name="cacheBlocks"/> more blocks for a prefix cache's
    /// shared KV; past it a sequence that grows fails ("the KV cache is full").</summary>
    void ReserveKvCache(int sequences, int longest, long tokens, int cacheBlocks = 0);

    /// <summary>How a prefix cache of <paramref name="bytes"/> splits on this model between pool blocks and recurrent
    /// snapshots, for prefill chunks of <paramref name="chunk"/> tokens (<see cref="Scheduling.PrefixBudget.Split"/>).</summary>
    Scheduling.PrefixBudget SplitPrefixBudget(long bytes, int chunk);
}

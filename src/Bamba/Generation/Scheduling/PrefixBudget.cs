namespace Bamba.Generation.Scheduling;

/// <summary>
/// The prefix cache's one budget of <see cref="Bytes"/>, everything its segments hold. Where KV rows live in a paged pool
/// sized up front (CUDA), <see cref="Blocks"/> pool blocks of <see cref="BlockBytes"/> each are set aside in the pool
/// for the cache's shared KV, and the rest of the bytes hold recurrent snapshots; so the device memory the cache takes
/// (the blocks set aside plus the snapshots) never passes <see cref="Bytes"/>. Host memory has no such split (0 blocks).
/// </summary>
public readonly record struct PrefixBudget(long Bytes, int Blocks, long BlockBytes)
{
    /// <summary>A budget with no pool: every byte for whatever the segments hold.</summary>
    public static PrefixBudget Host(long bytes) => new(bytes, 0, 0);

    /// <summary>Bytes left for what segments hold outside the pool (recurrent snapshots).</summary>
    public long SnapshotBytes => Bytes - Blocks * BlockBytes;

    /// <summary>
    /// Splits <paramref name="bytes"/> for a model whose pool blocks take <paramref name="blockBytes"/> for
    /// <paramref name="blockTokens"/> positions and whose recurrent snapshot takes <paramref name="snapshotBytes"/>. A
    /// point on the grid of <paramref name="chunk"/> tokens holds that chunk's KV blocks (one more for a partly filled
    /// last block) and a snapshot; the KV share is twice that proportion, because inner points drop their snapshots
    /// under pressure and keep their blocks. Without attention every byte is for snapshots; without recurrent state,
    /// every byte is for blocks.
    /// </summary>
    public static PrefixBudget Split(long bytes, long blockBytes, int blockTokens, long snapshotBytes, int chunk)
    {
        if (bytes <= 0 || blockBytes <= 0) return new(Math.Max(0, bytes), 0, blockBytes);
        double kv = 2.0 * blockBytes * ((chunk + blockTokens - 1) / blockTokens + 1);
        long blocks = (long)(bytes * (kv / (kv + snapshotBytes)) / blockBytes);
        return new(bytes, (int)Math.Min(int.MaxValue / 2, blocks), blockBytes);
    }
}

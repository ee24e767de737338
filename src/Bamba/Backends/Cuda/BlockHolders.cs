namespace Bamba.Backends.Cuda;

/// <summary>
/// The bookkeeping of a paged KV pool's blocks, apart from the device memory: which blocks are free, and how many
/// holders (sequences, prefix-cache segments) each block in use has. A block goes back to the free list when its last
/// holder drops it. Not thread-safe: <see cref="CudaKvPool"/> calls it under its lock.
/// </summary>
internal sealed class BlockHolders
{
    private readonly Stack<int> _free = new();
    private int[] _holders = [];

    public int Count => _holders.Length;
    public int Free => _free.Count;

    /// <summary>Adds free blocks up to <paramref name="blocks"/> in all; the blocks in use keep their holders.</summary>
    public void Grow(int blocks)
    {
        for (int b = blocks - 1; b >= _holders.Length; b--) _free.Push(b);
        if (blocks > _holders.Length) Array.Resize(ref _holders, blocks);
    }

    /// <summary>A free block, now with one holder (the caller checks <see cref="Free"/> first).</summary>
    public int Take()
    {
        int block = _free.Pop();
        _holders[block] = 1;
        return block;
    }

    /// <summary>One more holder of a block in use.</summary>
    public void Share(int block)
    {
        if (!InUse(block)) throw new InvalidOperationException($"KV block {block} is not in use: it cannot be shared");
        _holders[block]++;
    }

    /// <summary>One holder fewer; the last one returns the block to the free list.</summary>
    public void Drop(int block)
    {
        if (!InUse(block)) throw new InvalidOperationException($"KV block {block} is released more often than it was held");
        if (--_holders[block] == 0) _free.Push(block);
    }

    public int Holders(int block) => (uint)block < (uint)_holders.Length ? _holders[block] : 0;

    private bool InUse(int block) => (uint)block < (uint)_holders.Length && _holders[block] > 0;
}

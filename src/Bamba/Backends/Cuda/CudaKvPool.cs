using Bamba.Configuration;

namespace Bamba.Backends.Cuda;

/// <summary>
/// The attention KV cache of every sequence of a model, paged as vLLM pages it: blocks of <see cref="BlockTokens"/>
/// positions; per attention layer keys and values [blocks][kv_heads][BlockTokens][head_dim] in the activation type (one
/// KV head's rows of a block consecutive, so decode streams them whole), then one padding byte per position
/// [blocks][BlockTokens] shared by the layers, all in one allocation. A sequence
/// takes blocks from the free list as it grows and gives them back when disposed; the kernels reach its positions
/// through its block table (its block ids in order). Sized once by a caller that knows the load
/// (<see cref="CudaModel.ReserveKvCache"/>: the scheduler's KV budget, the bench's free memory), after which running
/// out is an error rather than a reallocation mid-generation; a pool nobody sized (the plain generator, tests) grows
/// by doubling instead, copying the blocks in use, so its few sequences never fail. A block is held by reference count:
/// the prefix cache shares a full block between the sequence that wrote it, the cache and sequences restored from it
/// (none writes it again: a sequence only appends past its cached positions), and the block goes back to the free list
/// when its last holder lets go.
/// </summary>
internal sealed class CudaKvPool(CudaDevice device, Lock gate, BambaConfig config, int actBytes) : IDisposable
{
    /// <summary>Positions per block: KV_BLOCK in attention.cu, a multiple of the prefill kernels' key tiles (32 and 64),
    /// so a tile is consecutive rows of one block; 64 tokens waste at most 63 positions per sequence.</summary>
    public const int BlockTokens = KernelConstants.KvBlock;
    private const int FirstBlocks = 64; // an unsized pool starts at 4096 positions

    private readonly int _layers = config.NumAttentionLayers;
    private readonly long _rowBytes = (long)config.NumKeyValueHeads * config.HeadDim * actBytes; // keys (or values) of one position, one layer
    private readonly BlockHolders _holders = new();
    private DeviceBuffer? _buffer;

    /// <summary>Bytes per activation element of the cached keys and values.</summary>
    public int ActBytes => actBytes;
    public int Blocks { get; private set; }
    /// <summary>Set once a caller has sized the pool: past its blocks a sequence gets an error instead of a reallocation.</summary>
    public bool Sized { get; private set; }
    /// <summary>Counts reallocations: a captured CUDA graph holds the pool addresses of the generation it was captured in.</summary>
    public int Generation { get; private set; }
    public long Bytes => _buffer?.Bytes ?? 0;
    /// <summary>Blocks no sequence or cache holds.</summary>
    public int FreeBlocks { get { lock (gate) return _holders.Free; } }
    /// <summary>The pool's bytes when no sequence holds a block (a resize then frees it before allocating), else 0.</summary>
    public long IdleBytes { get { lock (gate) return _holders.Free == Blocks ? Bytes : 0; } }

    /// <summary>Device bytes of one block: keys and values of every attention layer plus the padding flags.</summary>
    public static long BytesPerBlock(BambaConfig c, int actBytes) =>
        BlockTokens * (1 + 2L * c.NumAttentionLayers * c.NumKeyValueHeads * c.HeadDim * actBytes);

    public static int BlocksFor(long tokens) => checked((int)((tokens + BlockTokens - 1) / BlockTokens));

    /// <summary>Attention layer <paramref name="attentionLayer"/>'s key and value blocks and the padding flags: device
    /// addresses valid until the pool next grows (<see cref="Generation"/>).</summary>
    public CudaOps.KvPages Layer(int attentionLayer)
    {
        ulong start = _buffer?.Pointer ?? throw new InvalidOperationException("the KV pool holds no blocks yet");
        long layerBytes = (long)Blocks * BlockTokens * _rowBytes;
        return new(start + (ulong)(attentionLayer * layerBytes), start + (ulong)((_layers + attentionLayer) * layerBytes),
            start + (ulong)(2 * _layers * layerBytes));
    }

    /// <summary>Makes the pool hold at least <paramref name="blocks"/> blocks and fixes its size there.</summary>
    public void Reserve(int blocks)
    {
        lock (gate)
        {
            if (blocks > Blocks) Resize(blocks);
            Sized = true;
        }
    }

    /// <summary>Appends <paramref name="count"/> free blocks to a sequence's block table.</summary>
    public void Take(List<int> table, int count)
    {
        lock (gate)
        {
            if (count > _holders.Free)
            {
                if (Sized)
                    throw new BambaException($"the KV cache is full: a sequence needs {count} more blocks of {BlockTokens} tokens and " +
                        $"{_holders.Free} of the pool's {Blocks} are free (the pool was sized for {(long)Blocks * BlockTokens} tokens)");
                Resize(Math.Max(2 * Blocks, Math.Max(Blocks + count, FirstBlocks)));
            }
            for (int i = 0; i < count; i++) table.Add(_holders.Take());
        }
    }

    /// <summary>One more holder of a block in use (a cached prefix, or a sequence restored from one).</summary>
    public void Share(int block)
    {
        lock (gate) _holders.Share(block);
    }

    /// <summary>Lets go of each block of a table (a block nobody else holds goes back to the free list) and empties it.</summary>
    public void Release(List<int> table)
    {
        lock (gate)
        {
            foreach (int block in table) _holders.Drop(block);
            table.Clear();
        }
    }

    /// <summary>Lets go of one block.</summary>
    public void Drop(int block)
    {
        lock (gate) _holders.Drop(block);
    }

    /// <summary>Queues a copy of block <paramref name="source"/>'s keys, values and padding flags (every layer) into block
    /// <paramref name="destination"/>: the copy-on-write of a partly filled block.</summary>
    public void CopyBlock(int source, int destination)
    {
        lock (gate)
        {
            ulong start = _buffer?.Pointer ?? throw new InvalidOperationException("the KV pool holds no blocks yet");
            long layerBytes = (long)Blocks * BlockTokens * _rowBytes, blockBytes = BlockTokens * _rowBytes;
            for (int i = 0; i < 2 * _layers; i++)
                device.CopyDevice(start + (ulong)(i * layerBytes + destination * blockBytes), start + (ulong)(i * layerBytes + source * blockBytes), blockBytes);
            ulong flags = start + (ulong)(2 * _layers * layerBytes);
            device.CopyDevice(flags + (ulong)((long)destination * BlockTokens), flags + (ulong)((long)source * BlockTokens), BlockTokens);
        }
    }

    private void Resize(int blocks)
    {
        if (_buffer is not null && _holders.Free == Blocks)
        {
            // Nothing to keep: free the old pool first, so the new one may take its memory too.
            device.Synchronize(); // kernels of sequences already released may still be queued on it
            _buffer.Dispose();
            _buffer = null;
        }
        var fresh = device.Allocate(blocks * BytesPerBlock(config, actBytes));
        if (_buffer is not null) CopyInto(fresh, blocks);
        _holders.Grow(blocks);
        _buffer = fresh;
        Blocks = blocks;
        Generation++;
    }

    /// <summary>Copies every layer's slice (whose offset grows with the pool) and the padding flags into a larger pool, then frees the old one.</summary>
    private void CopyInto(DeviceBuffer fresh, int blocks)
    {
        long oldLayer = (long)Blocks * BlockTokens * _rowBytes, newLayer = (long)blocks * BlockTokens * _rowBytes;
        for (int i = 0; i <= 2 * _layers; i++)
            device.CopyDevice(fresh.Pointer + (ulong)(i * newLayer), _buffer!.Pointer + (ulong)(i * oldLayer),
                i < 2 * _layers ? oldLayer : (long)Blocks * BlockTokens);
        device.Synchronize(); // the copies must finish before the old pool is freed
        _buffer!.Dispose();
    }

    public void Dispose() => _buffer?.Dispose();
}

using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// One sequence's hybrid cache on the GPU: per Mamba layer the conv window [K−1, ConvDim] (float32) and the SSM state
/// [heads, head_dim, state] (float32, or bf16 where the model was loaded so), one allocation for all layers; for the
/// attention layers its block table, the blocks of the model's <see cref="CudaKvPool"/> that hold its keys, values and
/// padding flags in order, taken as it grows and given back when it is disposed.
/// </summary>
public sealed class CudaSequenceState : SequenceState
{
    private readonly CudaKvPool _pool;
    private readonly bool _hasAttention;
    private readonly DeviceBuffer _recurrent;
    private readonly long[] _convOffset, _ssmOffset;
    private readonly List<int> _blocks = [];

    internal CudaSequenceState(CudaDevice device, BambaConfig c, CudaKvPool pool, int stateBytes)
    {
        _pool = pool;
        _hasAttention = c.NumAttentionLayers > 0;
        long bytes = RecurrentLayout(c, stateBytes, out _convOffset, out _ssmOffset);
        _recurrent = device.AllocateZeroed(bytes);
        BlockBytes = _hasAttention ? CudaKvPool.BytesPerBlock(c, pool.ActBytes) : 0;
    }

    /// <summary>
    /// cuMemAlloc gives all but small allocations whole pages of 2 MiB (on an H100, states whose recurrent block is
    /// 20.6 MiB took 22 MiB each; Bamba-9B-shaped ones, counted without it, ran out of memory 3.6 GB early).
    /// </summary>
    private const long Page = 2L << 20;

    private static long Paged(long bytes) => (bytes + Page - 1) / Page * Page;

    /// <summary>Device bytes of one sequence holding <paramref name="tokens"/> tokens (its recurrent state, in whole pages, and the KV blocks they fill).</summary>
    internal static long BytesFor(BambaConfig c, int actBytes, int stateBytes, int tokens) =>
        Paged(RecurrentLayout(c, stateBytes, out _, out _)) + (c.NumAttentionLayers == 0 ? 0 : CudaKvPool.BlocksFor(tokens) * CudaKvPool.BytesPerBlock(c, actBytes));

    /// <summary>
    /// What a sequence holds whatever its length: its recurrent state and the most its last, partly filled KV block
    /// adds, so that this plus <see cref="KvBytesPerToken"/> per token bounds <see cref="BytesFor"/>.
    /// </summary>
    internal static long FixedBytes(BambaConfig c, int actBytes, int stateBytes) =>
        Paged(RecurrentLayout(c, stateBytes, out _, out _)) + (c.NumAttentionLayers == 0 ? 0 : CudaKvPool.BytesPerBlock(c, actBytes));

    /// <summary>Keys and values of every attention layer and the padding flag, per cached token (none without attention).</summary>
    internal static long KvBytesPerToken(BambaConfig c, int actBytes) =>
        c.NumAttentionLayers == 0 ? 0 : CudaKvPool.BytesPerBlock(c, actBytes) / CudaKvPool.BlockTokens;

    /// <summary>Per Mamba layer the conv window (float32) then the SSM state, 16-byte aligned; returns the total.</summary>
    private static long RecurrentLayout(BambaConfig c, int stateBytes, out long[] convOffset, out long[] ssmOffset)
    {
        convOffset = new long[c.NumHiddenLayers];
        ssmOffset = new long[c.NumHiddenLayers];
        long bytes = 0;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            if (!c.IsMambaLayer(i)) continue;
            convOffset[i] = bytes;
            bytes += 4L * (c.MambaDConv - 1) * c.ConvDim;
            ssmOffset[i] = bytes;
            bytes += (long)stateBytes * c.MambaNHeads * c.MambaDHead * c.MambaDState;
            bytes = (bytes + 15) / 16 * 16;
        }
        return bytes;
    }

    /// <summary>Positions in the KV cache (padding included).</summary>
    public int Cached { get; private set; }
    /// <summary>Non-padding tokens so far: the RoPE position of the next real token.</summary>
    public int Position { get; private set; }
    private long BlockBytes { get; }

    internal ulong ConvWindow(int layer) => _recurrent.Pointer + (ulong)_convOffset[layer];
    internal ulong SsmState(int layer) => _recurrent.Pointer + (ulong)_ssmOffset[layer];
    /// <summary>The pool blocks holding positions 0, 64, 128, … in order.</summary>
    internal IReadOnlyList<int> BlockTable => _blocks;

    /// <summary>Bytes held on the device by this sequence: its recurrent state and its share of the KV pool.</summary>
    public override long Bytes => _recurrent.Bytes + _blocks.Count * BlockBytes;

    /// <summary>
    /// Takes the blocks a run needs and returns the RoPE positions of its tokens (−1 for padding); the KV append
    /// kernels write the padding flags. The counters move on in <see cref="Commit"/>, after the layers have read the old ones.
    /// </summary>
    internal int[] Begin(ReadOnlySpan<bool> padding, int count)
    {
        var positions = new int[count];
        int next = Position;
        for (int t = 0; t < count; t++) positions[t] = !padding.IsEmpty && padding[t] ? -1 : next++;
        Reserve(Cached + count);
        return positions;
    }

    internal void Commit(int count, int realTokens)
    {
        Cached += count;
        Position += realTokens;
        Length += count;
    }

    /// <summary>Takes the KV blocks for <paramref name="tokens"/> now (the scheduler's admission guarantee: a running
    /// sequence never waits for a block).</summary>
    public override void Reserve(int tokens)
    {
        int more = CudaKvPool.BlocksFor(tokens) - _blocks.Count;
        if (_hasAttention && more > 0) _pool.Take(_blocks, more);
    }

    public override void Dispose()
    {
        _recurrent.Dispose();
        _pool.Release(_blocks);
        base.Dispose();
    }
}

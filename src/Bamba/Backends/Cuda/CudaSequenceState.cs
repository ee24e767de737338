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

    /// <summary>Device bytes of one sequence holding <paramref name="tokens"/> tokens (recurrent state + the KV blocks they fill).</summary>
    internal static long BytesFor(BambaConfig c, int actBytes, int stateBytes, int tokens) =>
        RecurrentLayout(c, stateBytes, out _, out _) + (c.NumAttentionLayers == 0 ? 0 : CudaKvPool.BlocksFor(tokens) * CudaKvPool.BytesPerBlock(c, actBytes));

    /// <summary>Per Mamba layer the conv window (float32) then the SSM state, 16-byte aligned; returns the total.</summary>
    private static long RecurrentLayout(BambaConfig c, int stateBytes, out long[] convOffset, out long[] ssmOffset)
    {
        convOffset = new long[c.NumHiddenLayers];
        ssmOffset = new long[c.NumHiddenLayers];
        long bytes = 0;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            if (c.IsAttentionLayer(i)) continue;
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
    public long Bytes => _recurrent.Bytes + _blocks.Count * BlockBytes;

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

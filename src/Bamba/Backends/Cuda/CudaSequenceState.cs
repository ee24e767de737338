using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// One sequence's hybrid cache on the GPU: per Mamba layer the conv window [K−1, ConvDim] (float32) and the SSM state
/// [heads, head_dim, state] (float32, or bf16 where the model was loaded so), one allocation for all layers; for the
/// attention layers its block table, the blocks of the model's <see cref="CudaKvPool"/> that hold its keys, values and
/// padding flags in order, taken as it grows and given back when it is disposed. Its segments for the prefix cache
/// (<see cref="CudaStateSegment"/>) are device-to-device copies queued on the stream, never a trip through the host.
/// </summary>
public sealed class CudaSequenceState : SequenceState, ISnapshotState
{
    private readonly CudaDevice _device;
    private readonly Lock _gate;
    private readonly CudaKvPool _pool;
    private readonly bool _hasAttention;
    private readonly DeviceBuffer _recurrent;
    private readonly long[] _convOffset, _ssmOffset;
    private readonly List<int> _blocks = [];

    internal CudaSequenceState(CudaDevice device, Lock gate, BambaConfig c, CudaKvPool pool, int stateBytes)
    {
        _device = device;
        _gate = gate;
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

    /// <summary>Device bytes of one recurrent snapshot (a prefix cache point's copy of the conv windows and SSM states), in whole pages.</summary>
    internal static long SnapshotBytes(BambaConfig c, int stateBytes) => Paged(RecurrentLayout(c, stateBytes, out _, out _));

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

    /// <summary>The blocks holding positions [<paramref name="from"/>, Length), the first at index from / BlockTokens.</summary>
    private int SegmentBlocks(int from) => _hasAttention && Length > from ? CudaKvPool.BlocksFor(Length) - from / CudaKvPool.BlockTokens : 0;

    public (long Bytes, int Blocks) CaptureSize(int from)
    {
        int blocks = SegmentBlocks(from);
        return (Paged(_recurrent.Bytes) + blocks * BlockBytes, blocks);
    }

    /// <summary>
    /// Shares the full blocks of [<paramref name="from"/>, Length) and copies a partly filled last one (this sequence goes
    /// on writing it), and copies the recurrent state; all queued on the stream after the step that produced them.
    /// </summary>
    public StateSegment Capture(int from)
    {
        if (Position != Length || Cached != Length) throw new InvalidOperationException("a state with padding cannot be captured");
        if (from < 0 || from > Length) throw new ArgumentOutOfRangeException(nameof(from));
        lock (_gate)
        {
            var blocks = new List<int>();
            DeviceBuffer? recurrent = null;
            try
            {
                int first = from / CudaKvPool.BlockTokens, count = SegmentBlocks(from);
                for (int k = first; k < first + count; k++)
                {
                    if ((k + 1) * CudaKvPool.BlockTokens <= Length)
                    {
                        _pool.Share(_blocks[k]);
                        blocks.Add(_blocks[k]);
                        continue;
                    }
                    _pool.Take(blocks, 1);
                    _pool.CopyBlock(_blocks[k], blocks[^1]);
                }
                recurrent = _device.Allocate(_recurrent.Bytes);
                _device.CopyDevice(recurrent.Pointer, _recurrent.Pointer, _recurrent.Bytes);
                return new CudaStateSegment(_device, _pool, from, Length, blocks, BlockBytes, recurrent, Paged(_recurrent.Bytes));
            }
            catch
            {
                _pool.Release(blocks);
                recurrent?.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Takes each block of the path from the deepest segment holding it (a later segment's full block replaces an
    /// earlier one's partial copy), by reference for full blocks and by copy into this sequence's own block for a partly
    /// filled last one, then copies the last segment's recurrent state in.
    /// </summary>
    public void Restore(IReadOnlyList<StateSegment> path)
    {
        if (Length != 0) throw new InvalidOperationException("only a fresh state can be restored");
        if (path.Count == 0) return;
        var segments = path.Select(s => s as CudaStateSegment
            ?? throw new ArgumentException("a state segment from another backend was passed to the CUDA model")).ToArray();
        int position = 0;
        foreach (var segment in segments)
        {
            if (segment.Start != position) throw new ArgumentException($"the segments are not contiguous at position {position}");
            position = segment.End;
        }
        var last = segments[^1];
        if (!last.HasRecurrent) throw new ArgumentException("the last segment of a path no longer holds its recurrent state");
        lock (_gate)
        {
            if (_hasAttention) RestoreBlocks(segments, position);
            _device.CopyDevice(_recurrent.Pointer, last.Recurrent.Pointer, _recurrent.Bytes);
        }
        Cached = Position = Length = position;
    }

    private void RestoreBlocks(CudaStateSegment[] segments, int end)
    {
        Reserve(end);
        var source = PathBlocks(segments.Select(s => (s.FirstBlock, s.BlockIds)), end);
        int full = end / CudaKvPool.BlockTokens;
        for (int k = 0; k < full; k++)
        {
            _pool.Share(source[k]);
            _pool.Drop(_blocks[k]);
            _blocks[k] = source[k];
        }
        if (full < source.Length) _pool.CopyBlock(source[full], _blocks[full]);
    }

    /// <summary>
    /// The pool block for each block-table index of a path's positions [0, <paramref name="end"/>): the one held by the
    /// deepest segment holding that index (a segment starting inside a block holds it, full, where the segment before
    /// holds only a partial copy).
    /// </summary>
    internal static int[] PathBlocks(IEnumerable<(int FirstBlock, IReadOnlyList<int> Blocks)> segments, int end)
    {
        var source = new int[CudaKvPool.BlocksFor(end)];
        Array.Fill(source, -1);
        foreach (var (first, blocks) in segments)
            for (int j = 0; j < blocks.Count; j++) source[first + j] = blocks[j];
        int missing = Array.IndexOf(source, -1);
        if (missing >= 0) throw new ArgumentException($"no segment of the path holds KV block {missing}");
        return source;
    }

    public override void Dispose()
    {
        _recurrent.Dispose();
        _pool.Release(_blocks);
        base.Dispose();
    }
}

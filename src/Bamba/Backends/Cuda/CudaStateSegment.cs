using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// A segment of a <see cref="CudaSequenceState"/>, all in device memory: the KV pool blocks that hold positions
/// [Start, End) (full blocks shared by reference with the sequence that wrote them, a partly filled last block copied)
/// and a copy of every Mamba layer's conv window and SSM state at End, until dropped.
/// </summary>
public sealed class CudaStateSegment : StateSegment
{
    private readonly CudaDevice _device;
    private readonly CudaKvPool _pool;
    private readonly long _blockBytes;
    private readonly long _snapshotBytes;
    private readonly List<int> _blocks;
    private DeviceBuffer? _recurrent;

    internal CudaStateSegment(CudaDevice device, CudaKvPool pool, int start, int end, List<int> blocks, long blockBytes,
        DeviceBuffer recurrent, long snapshotBytes)
    {
        _device = device;
        _pool = pool;
        Start = start;
        End = end;
        _blocks = blocks;
        _blockBytes = blockBytes;
        _recurrent = recurrent;
        _snapshotBytes = snapshotBytes;
    }

    public override int Start { get; }
    public override int End { get; }
    /// <summary>Index in a block table of the first block this segment holds: the one with position Start.</summary>
    internal int FirstBlock => Start / CudaKvPool.BlockTokens;
    /// <summary>Pool blocks of block-table indices FirstBlock, FirstBlock + 1, … (none without attention layers).</summary>
    internal IReadOnlyList<int> BlockIds => _blocks;
    internal DeviceBuffer Recurrent => _recurrent ?? throw new InvalidOperationException("the segment's recurrent state was dropped");

    public override bool HasRecurrent => _recurrent is not null;
    public override int Blocks => _blocks.Count;
    public override long Bytes => (_recurrent is null ? 0 : _snapshotBytes) + _blocks.Count * _blockBytes;

    public override void DropRecurrent()
    {
        if (_recurrent is null) return;
        _device.Synchronize(); // a restore may still be copying from it
        _recurrent.Dispose();
        _recurrent = null;
    }

    public override void Release()
    {
        DropRecurrent();
        _pool.Release(_blocks);
    }
}

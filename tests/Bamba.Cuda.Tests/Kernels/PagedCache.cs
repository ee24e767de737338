using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// One attention layer of a KV block pool laid out as <see cref="CudaKvPool"/> lays it ([blocks][kv_heads][64][head_dim]
/// keys and values, a padding byte per position), built on the host for the kernel tests. The sequences take their blocks in
/// turn, one block each per round, from a shuffled free list (with spare blocks nobody owns), so no sequence's blocks
/// are contiguous or in order, as after interleaved growth and reuse.
/// </summary>
internal sealed class PagedCache : IDisposable
{
    private const int Block = CudaKvPool.BlockTokens;
    private const int Spare = 3;
    private readonly CudaOps _ops;
    private readonly int _kvHeads, _headDim;
    private readonly float[] _keys, _values;
    private readonly byte[] _padding;
    private DeviceBuffer? _keysOnDevice, _valuesOnDevice, _paddingOnDevice, _tablesOnDevice;

    /// <param name="capacities">Positions each sequence must hold.</param>
    public PagedCache(CudaOps ops, int kvHeads, int headDim, int[] capacities, int seed)
    {
        _ops = ops;
        _kvHeads = kvHeads;
        _headDim = headDim;
        int width = kvHeads * headDim;
        var need = capacities.Select(c => Math.Max(1, CudaKvPool.BlocksFor(c))).ToArray();
        int blocks = need.Sum() + Spare;
        var random = new Random(seed);
        var free = new Queue<int>(Enumerable.Range(0, blocks).OrderBy(_ => random.Next()));
        var tables = need.Select(_ => new List<int>()).ToArray();
        for (int round = 0; round < need.Max(); round++)
            for (int s = 0; s < need.Length; s++)
                if (round < need[s]) tables[s].Add(free.Dequeue());
        Tables = tables.Select(t => t.ToArray()).ToArray();
        Stride = need.Max();
        _keys = Gpu.Rounded(ops, Gpu.Random(seed + 1, blocks * Block * width)); // stale rows: whatever a released block held
        _values = Gpu.Rounded(ops, Gpu.Random(seed + 2, blocks * Block * width));
        _padding = Enumerable.Repeat((byte)7, blocks * Block).ToArray(); // 7: a flag the kernels must overwrite before use
    }

    public int[][] Tables { get; }
    /// <summary>Ints per row of <see cref="TablesOnDevice"/>.</summary>
    public int Stride { get; }

    /// <summary>Index of a position's padding flag.</summary>
    private int Row(int sequence, int position) => Tables[sequence][position / Block] * Block + position % Block;

    /// <summary>Where a position's row for KV head <paramref name="head"/> starts in the keys (or values).</summary>
    private int At(int sequence, int position, int head) =>
        ((Tables[sequence][position / Block] * _kvHeads + head) * Block + position % Block) * _headDim;

    /// <summary>Sets a position's key and value rows (all KV heads) and padding flag before <see cref="Upload"/>.</summary>
    public void Set(int sequence, int position, ReadOnlySpan<float> key, ReadOnlySpan<float> value, bool padding)
    {
        for (int h = 0; h < _kvHeads; h++)
        {
            key.Slice(h * _headDim, _headDim).CopyTo(_keys.AsSpan(At(sequence, position, h), _headDim));
            value.Slice(h * _headDim, _headDim).CopyTo(_values.AsSpan(At(sequence, position, h), _headDim));
        }
        _padding[Row(sequence, position)] = (byte)(padding ? 1 : 0);
    }

    /// <summary>Copies the pool and the block tables ([sequence][Stride] ints) to the device.</summary>
    public void Upload()
    {
        _keysOnDevice = Gpu.Act(_ops, _keys);
        _valuesOnDevice = Gpu.Act(_ops, _values);
        _paddingOnDevice = Gpu.Device.Upload<byte>(_padding);
        var rows = new int[Tables.Length * Stride];
        for (int s = 0; s < Tables.Length; s++) Tables[s].CopyTo(rows, s * Stride);
        _tablesOnDevice = Gpu.I32(rows);
    }

    public CudaOps.KvPages Pages => new(_keysOnDevice!.Pointer, _valuesOnDevice!.Pointer, _paddingOnDevice!.Pointer);
    public ulong TablesOnDevice => _tablesOnDevice!.Pointer;
    public ulong Table(int sequence) => TablesOnDevice + (ulong)(4L * sequence * Stride);

    /// <summary>A sequence's first <paramref name="count"/> key rows, value rows and padding flags, read back through its table.</summary>
    public (float[] Keys, float[] Values, byte[] Padding) Read(int sequence, int count)
    {
        var keys = Gpu.ReadAct(_ops, _keysOnDevice!.Pointer, _keys.Length);
        var values = Gpu.ReadAct(_ops, _valuesOnDevice!.Pointer, _values.Length);
        var padding = Gpu.Device.Download<byte>(_paddingOnDevice!.Pointer, _padding.Length);
        int width = _kvHeads * _headDim;
        var k = new float[count * width];
        var v = new float[count * width];
        var p = new byte[count];
        for (int j = 0; j < count; j++)
        {
            for (int h = 0; h < _kvHeads; h++)
            {
                keys.AsSpan(At(sequence, j, h), _headDim).CopyTo(k.AsSpan(j * width + h * _headDim));
                values.AsSpan(At(sequence, j, h), _headDim).CopyTo(v.AsSpan(j * width + h * _headDim));
            }
            p[j] = padding[Row(sequence, j)];
        }
        return (k, v, p);
    }

    public void Dispose()
    {
        _keysOnDevice?.Dispose();
        _valuesOnDevice?.Dispose();
        _paddingOnDevice?.Dispose();
        _tablesOnDevice?.Dispose();
    }
}

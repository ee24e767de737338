using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// One sequence's hybrid cache on the GPU: per Mamba layer the conv window [K−1, ConvDim] (float32) and the SSM state
/// [heads, head_dim, state] (float32, or bf16 where the model was loaded so), one allocation for all layers; per attention layer the keys and values
/// (activation type, RoPE applied), grown by doubling; one padding byte per cached position, shared by the layers.
/// </summary>
public sealed class CudaSequenceState : SequenceState
{
    private readonly CudaDevice _device;
    private readonly BambaConfig _config;
    private readonly int _actBytes;
    private readonly DeviceBuffer _recurrent;
    private readonly long[] _convOffset, _ssmOffset;
    private readonly int[] _attentionLayers;
    private DeviceBuffer[] _keys = [], _values = [];
    private DeviceBuffer? _padding;

    internal CudaSequenceState(CudaDevice device, BambaConfig c, int actBytes, int stateBytes)
    {
        _device = device;
        _config = c;
        _actBytes = actBytes;
        long bytes = RecurrentLayout(c, stateBytes, out _convOffset, out _ssmOffset);
        _recurrent = device.AllocateZeroed(bytes);
        _attentionLayers = Enumerable.Range(0, c.NumHiddenLayers).Where(c.IsAttentionLayer).ToArray();
    }

    /// <summary>
    /// cuMemAlloc gives all but small allocations whole pages of 2 MiB (on an H100, states whose recurrent block is
    /// 20.6 MiB took 22 MiB each; Bamba-9B-shaped ones, counted without it, ran out of memory 3.6 GB early).
    /// </summary>
    private const long Page = 2L << 20;

    private static long Paged(long bytes) => (bytes + Page - 1) / Page * Page;

    /// <summary>Device bytes of one sequence holding <paramref name="tokens"/> tokens (recurrent state + KV rows + padding flags, each allocation in whole pages).</summary>
    internal static long BytesFor(BambaConfig c, int actBytes, int stateBytes, int tokens)
    {
        long recurrent = Paged(RecurrentLayout(c, stateBytes, out _, out _));
        if (c.NumAttentionLayers == 0) return recurrent;
        return recurrent + 2L * c.NumAttentionLayers * Paged(tokens * KvRowBytes(c, actBytes)) + Paged(tokens);
    }

    /// <summary>
    /// What a sequence holds whatever its length, with the most that page rounding can add to its growing buffers (K and
    /// V per attention layer, padding): so that this plus <see cref="KvBytesPerToken"/> per token bounds <see cref="BytesFor"/>.
    /// </summary>
    internal static long FixedBytes(BambaConfig c, int stateBytes) =>
        Paged(RecurrentLayout(c, stateBytes, out _, out _)) + (c.NumAttentionLayers == 0 ? 0 : (2L * c.NumAttentionLayers + 1) * Page);

    /// <summary>Keys and values of every attention layer and the padding flag, per cached token (none without attention).</summary>
    internal static long KvBytesPerToken(BambaConfig c, int actBytes) =>
        c.NumAttentionLayers == 0 ? 0 : 1 + 2L * c.NumAttentionLayers * KvRowBytes(c, actBytes);

    /// <summary>One cached token's keys (or values) in one attention layer.</summary>
    private static long KvRowBytes(BambaConfig c, int actBytes) => (long)c.NumKeyValueHeads * c.HeadDim * actBytes;

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
    public int Capacity { get; private set; }

    internal ulong ConvWindow(int layer) => _recurrent.Pointer + (ulong)_convOffset[layer];
    internal ulong SsmState(int layer) => _recurrent.Pointer + (ulong)_ssmOffset[layer];
    internal ulong Keys(int layer) => _keys[Array.IndexOf(_attentionLayers, layer)].Pointer;
    internal ulong Values(int layer) => _values[Array.IndexOf(_attentionLayers, layer)].Pointer;
    internal ulong Padding => _padding?.Pointer ?? 0;

    /// <summary>Bytes held on the device by this sequence.</summary>
    public override long Bytes => _recurrent.Bytes + _keys.Sum(k => k.Bytes) + _values.Sum(v => v.Bytes) + (_padding?.Bytes ?? 0);

    /// <summary>
    /// Makes room for a run, records its padding flags and returns the RoPE positions of its tokens (−1 for padding).
    /// The counters move on in <see cref="Commit"/>, after the layers have read the old ones. Without
    /// <paramref name="recordPadding"/> the caller writes the flags on the device (the batched KV append does).
    /// </summary>
    internal int[] Begin(ReadOnlySpan<bool> padding, int count, bool recordPadding = true)
    {
        var positions = new int[count];
        int next = Position;
        for (int t = 0; t < count; t++) positions[t] = !padding.IsEmpty && padding[t] ? -1 : next++;
        if (_attentionLayers.Length == 0) return positions;
        EnsureCapacity(Cached + count);
        if (!recordPadding) return positions;
        var flags = new byte[count];
        for (int t = 0; t < count; t++) flags[t] = (byte)(positions[t] < 0 ? 1 : 0);
        _device.Copy<byte>(_padding!.Pointer + (ulong)Cached, flags);
        return positions;
    }

    internal void Commit(int count, int realTokens)
    {
        Cached += count;
        Position += realTokens;
        Length += count;
    }

    /// <summary>Allocates the KV rows for <paramref name="tokens"/> now, exactly, instead of growing by doubling.</summary>
    public override void Reserve(int tokens)
    {
        if (_attentionLayers.Length > 0 && tokens > Capacity) Grow(tokens);
    }

    private void EnsureCapacity(int needed)
    {
        if (needed > Capacity) Grow(Math.Max(needed, Math.Max(2 * Capacity, 64)));
    }

    private void Grow(int capacity)
    {
        long width = KvRowBytes(_config, _actBytes);
        DeviceBuffer Grow(DeviceBuffer? old, long rowBytes)
        {
            var fresh = _device.Allocate(capacity * rowBytes);
            if (old is not null) { _device.CopyDevice(fresh.Pointer, old.Pointer, Cached * rowBytes); }
            return fresh;
        }
        var keys = _attentionLayers.Select((_, i) => Grow(_keys.Length > 0 ? _keys[i] : null, width)).ToArray();
        var values = _attentionLayers.Select((_, i) => Grow(_values.Length > 0 ? _values[i] : null, width)).ToArray();
        var padding = Grow(_padding, 1);
        _device.Synchronize(); // the copies must finish before the old buffers are freed
        foreach (var b in _keys.Concat(_values)) b.Dispose();
        _padding?.Dispose();
        (_keys, _values, _padding, Capacity) = (keys, values, padding, capacity);
    }

    public override void Dispose()
    {
        _recurrent.Dispose();
        foreach (var b in _keys.Concat(_values)) b.Dispose();
        _padding?.Dispose();
        base.Dispose();
    }
}

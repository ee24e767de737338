using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Modeling;

/// <summary>
/// The hybrid cache of one sequence on the CPU: for each Mamba layer the conv window (last K−1 pre-conv inputs)
/// and the SSM state [heads, head_dim, state] in float32; for each attention layer the keys (RoPE applied) and values.
/// </summary>
public sealed class CpuSequenceState : SequenceState, ISnapshotState
{
    internal CpuSequenceState(BambaConfig c)
    {
        Conv = new float[c.NumHiddenLayers][];
        Ssm = new float[c.NumHiddenLayers][];
        Kv = new KvCache?[c.NumHiddenLayers];
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            if (c.IsAttentionLayer(i)) Kv[i] = new KvCache(c.NumKeyValueHeads * c.HeadDim);
            if (!c.IsMambaLayer(i)) continue;
            Conv[i] = new float[(c.MambaDConv - 1) * c.ConvDim];
            Ssm[i] = new float[c.MambaNHeads * c.MambaDHead * c.MambaDState];
        }
    }

    internal float[][] Conv { get; }
    internal float[][] Ssm { get; }
    internal KvCache?[] Kv { get; }

    /// <summary>Non-padding tokens so far: the RoPE position of the next real token.</summary>
    public int Position { get; private set; }

    /// <summary>Assigns positions to a run of tokens and advances the state's counters.</summary>
    internal int[] Advance(ReadOnlySpan<bool> padding, int count)
    {
        var positions = new int[count];
        for (int t = 0; t < count; t++)
            positions[t] = !padding.IsEmpty && padding[t] ? -1 : Position++;
        Length += count;
        return positions;
    }

    public (long Bytes, int Blocks) CaptureSize(int from) =>
        (4L * (Kv.Sum(k => k is null ? 0 : 2L * (Length - from) * k.Width) + Conv.Sum(c => (long)(c?.Length ?? 0)) + Ssm.Sum(s => (long)(s?.Length ?? 0))), 0);

    public StateSegment Capture(int from)
    {
        if (Position != Length) throw new InvalidOperationException("a state with padding cannot be captured");
        if (from < 0 || from > Length) throw new ArgumentOutOfRangeException(nameof(from));
        return new CpuStateSegment(from, Length,
            Kv.Select(k => k?.Keys[(from * k.Width)..].ToArray()).ToArray(),
            Kv.Select(k => k?.Values[(from * k.Width)..].ToArray()).ToArray(),
            Conv.Select(c => (float[]?)c?.Clone()).ToArray(),
            Ssm.Select(s => (float[]?)s?.Clone()).ToArray());
    }

    public void Restore(IReadOnlyList<StateSegment> path)
    {
        if (Length != 0) throw new InvalidOperationException("only a fresh state can be restored");
        int position = 0;
        foreach (var segment in path.Select(s => s as CpuStateSegment
            ?? throw new ArgumentException("a state segment from another backend was passed to the CPU model")))
        {
            if (segment.Start != position) throw new ArgumentException($"the segments are not contiguous at position {position}");
            for (int i = 0; i < Kv.Length; i++)
                Kv[i]?.Append(segment.Keys[i], segment.Values[i], [], segment.Tokens);
            position = segment.End;
        }
        if (path.Count == 0) return;
        var last = (CpuStateSegment)path[^1];
        if (!last.HasRecurrent) throw new ArgumentException("the last segment of a path no longer holds its recurrent state");
        for (int i = 0; i < Conv.Length; i++)
        {
            last.Conv[i]?.CopyTo(Conv[i]!, 0);
            last.Ssm[i]?.CopyTo(Ssm[i]!, 0);
        }
        Length = Position = position;
    }

    public override long Bytes =>
        4L * (Conv.Sum(c => (long)(c?.Length ?? 0)) + Ssm.Sum(s => (long)(s?.Length ?? 0)) + Kv.Sum(k => k?.Floats ?? 0));
}

/// <summary>Growing key/value rows of one attention layer, plus which rows are padding.</summary>
internal sealed class KvCache(int width)
{
    private float[] _keys = new float[width * 16];
    private float[] _values = new float[width * 16];
    private readonly List<bool> _padding = [];

    public int Width { get; } = width;
    public int Count => _padding.Count;
    public long Floats => 2L * Count * Width;
    public ReadOnlySpan<float> Keys => _keys.AsSpan(0, Count * Width);
    public ReadOnlySpan<float> Values => _values.AsSpan(0, Count * Width);
    public ReadOnlySpan<bool> Padding => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_padding);

    public void Append(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, ReadOnlySpan<bool> padding, int count)
    {
        int needed = (Count + count) * Width;
        if (needed > _keys.Length)
        {
            int size = Math.Max(needed, _keys.Length * 2);
            Array.Resize(ref _keys, size);
            Array.Resize(ref _values, size);
        }
        keys[..(count * Width)].CopyTo(_keys.AsSpan(Count * Width));
        values[..(count * Width)].CopyTo(_values.AsSpan(Count * Width));
        for (int t = 0; t < count; t++) _padding.Add(!padding.IsEmpty && padding[t]);
    }
}

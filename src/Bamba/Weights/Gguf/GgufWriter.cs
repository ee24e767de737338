using System.Text;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Writes a GGUF v3 file: header, metadata, tensor infos, then each tensor's data at an offset aligned to
/// <see cref="GgufFile.DefaultAlignment"/>. Tensors are produced one at a time by their writer callbacks, so a
/// conversion holds one tensor in memory, not the model.
/// </summary>
public static class GgufWriter
{
    /// <param name="Shape">Row-major, as safetensors has it; the file stores ggml's reversed <c>ne</c>.</param>
    /// <param name="WriteData">Writes exactly <c>Type.ByteCount(elements)</c> bytes.</param>
    public sealed record Tensor(string Name, DType Type, long[] Shape, Action<Stream> WriteData)
    {
        public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
        public long ByteCount => Type.ByteCount(ElementCount);
    }

    public static void Write(string path, IEnumerable<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<Tensor> tensors,
        Action<int>? progress = null)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream, metadata, tensors, progress);
    }

    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<Tensor> tensors,
        Action<int>? progress = null)
    {
        var kv = metadata.ToList();
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)kv.Count);
        foreach (var (key, value) in kv) { WriteString(w, key); WriteValue(w, value); }
        long offset = 0;
        foreach (var t in tensors)
        {
            if (t.Shape[^1] % t.Type.BlockElements() != 0)
                throw new ArgumentException($"tensor '{t.Name}': rows of {t.Shape[^1]} are not whole {t.Type} blocks");
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (long d in t.Shape.Reverse()) w.Write((ulong)d);
            w.Write(GgmlTypes.Id(t.Type));
            w.Write((ulong)offset);
            offset = Align(offset + t.ByteCount);
        }
        w.Flush();
        Pad(stream);
        for (int i = 0; i < tensors.Count; i++)
        {
            long start = stream.Position;
            tensors[i].WriteData(stream);
            if (stream.Position - start != tensors[i].ByteCount)
                throw new InvalidOperationException($"tensor '{tensors[i].Name}': wrote {stream.Position - start} bytes, expected {tensors[i].ByteCount}");
            Pad(stream);
            progress?.Invoke(i + 1);
        }
    }

    private static long Align(long n) => (n + GgufFile.DefaultAlignment - 1) / GgufFile.DefaultAlignment * GgufFile.DefaultAlignment;

    private static void Pad(Stream s)
    {
        int pad = (int)(Align(s.Position) - s.Position);
        if (pad > 0) s.Write(new byte[pad]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        w.Write((uint)v.Type);
        if (v.Type != GgufType.Array) { WriteScalar(w, v.Type, v.Value); return; }
        w.Write((uint)v.ElementType);
        var items = (System.Array)v.Value;
        w.Write((ulong)items.Length);
        foreach (var item in items) WriteScalar(w, v.ElementType, item);
    }

    private static void WriteScalar(BinaryWriter w, GgufType t, object value)
    {
        switch (t)
        {
            case GgufType.UInt8: w.Write((byte)(long)value); break;
            case GgufType.Int8: w.Write((sbyte)(long)value); break;
            case GgufType.UInt16: w.Write((ushort)(long)value); break;
            case GgufType.Int16: w.Write((short)(long)value); break;
            case GgufType.UInt32: w.Write((uint)(long)value); break;
            case GgufType.Int32: w.Write((int)(long)value); break;
            case GgufType.UInt64: w.Write((ulong)(long)value); break;
            case GgufType.Int64: w.Write((long)value); break;
            case GgufType.Float32: w.Write((float)(double)value); break;
            case GgufType.Float64: w.Write((double)value); break;
            case GgufType.Bool: w.Write((bool)value); break;
            case GgufType.String: WriteString(w, (string)value); break;
            default: throw new ArgumentException($"cannot write a nested {t}");
        }
    }
}

using System.Text;
using System.Text.Json;

namespace Bamba.Weights;

/// <summary>Writes a .safetensors file (header JSON padded to 8 bytes, then the tensors in the given order).</summary>
public static class SafetensorsWriter
{
    public sealed record Entry(string Name, DType DType, long[] Shape, ReadOnlyMemory<byte> Data);

    public static void Write(string path, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = File.Create(path);
        Write(stream, tensors, metadata);
    }

    public static void Write(Stream stream, IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        byte[] header = Header(tensors, metadata);
        stream.Write(BitConverter.GetBytes((long)header.Length));
        stream.Write(header);
        foreach (var t in tensors) stream.Write(t.Data.Span);
    }

    private static byte[] Header(IReadOnlyList<Entry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in metadata ?? new Dictionary<string, string> { ["format"] = "pt" }) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                long expected = t.Shape.Aggregate(1L, (a, b) => a * b) * t.DType.Size();
                if (t.Data.Length != expected) throw new ArgumentException($"tensor '{t.Name}': {t.Data.Length} bytes, expected {expected}");
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        var bytes = ms.ToArray().ToList();
        while (bytes.Count % 8 != 0) bytes.Add((byte)' ');
        return bytes.ToArray();
    }
}

using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Bamba.Weights;

/// <summary>
/// One memory-mapped .safetensors file. The header is validated before any tensor is used: its length and JSON,
/// each tensor's dtype, shape and byte range (inside the data section, length = elements × dtype size, no overlap).
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr,
        long dataStart, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _map = map; _view = view; _base = basePtr; _dataStart = dataStart;
        Tensors = tensors; Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: file not found");
        long length = new FileInfo(path).Length;
        if (length < 8) throw new BambaException($"{path}: truncated safetensors file ({length} bytes, the 8-byte header length is missing)");
        var (headerLength, headerBytes) = ReadHeader(path, length);
        long dataStart = 8 + headerLength;
        var (tensors, metadata) = ParseHeader(path, headerBytes, length - dataStart);
        if (length == 0) return new SafetensorsFile(path, null, null, null, dataStart, tensors, metadata);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        return new SafetensorsFile(path, map, view, p + view.PointerOffset, dataStart, tensors, metadata);
    }

    public WeightTensor Get(TensorInfo info) => new(info, _base + _dataStart + info.Begin);

    private static (long, byte[]) ReadHeader(string path, long fileLength)
    {
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        long headerLength = BitConverter.ToInt64(lengthBytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes)
            throw new BambaException($"{path}: header length {headerLength} is not plausible (not a safetensors file?)");
        if (8 + headerLength > fileLength)
            throw new BambaException($"{path}: truncated: header says {headerLength} bytes but the file has {fileLength - 8} after the length");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        return (headerLength, header);
    }

    private static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new BambaException($"{path}: header is not valid JSON ({e.Message})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BambaException($"{path}: header is not a JSON object");
            var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") { ReadMetadata(path, entry.Value, metadata); continue; }
                tensors.Add(entry.Name, ParseTensor(path, entry.Name, entry.Value, dataLength));
            }
            CheckNoOverlap(path, tensors.Values);
            return (tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object) throw new BambaException($"{path}: __metadata__ must be an object");
        foreach (var m in value.EnumerateObject())
            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
    }

    private static TensorInfo ParseTensor(string path, string name, JsonElement t, long dataLength)
    {
        BambaException Bad(string what) => new($"{path}: tensor '{name}': {what}");
        if (t.ValueKind != JsonValueKind.Object) throw Bad("entry is not an object");
        if (!t.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        string dtypeName = dt.GetString()!;
        var dtype = DTypes.FromSafetensorsName(dtypeName)
            ?? throw Bad($"unsupported dtype {dtypeName} (expected F32, BF16, F16 or I64)");
        if (!t.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        var shape = sh.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out long v) && v >= 0
            ? v : throw Bad("shape must be a list of non-negative integers")).ToArray();
        if (!t.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw Bad("data_offsets must be [begin, end]");
        var info = new TensorInfo(name, path, dtype, shape, begin, end);
        if (begin < 0 || end < begin) throw Bad($"data_offsets [{begin}, {end}] are not ordered");
        if (end > dataLength) throw Bad($"data ends at byte {end} but the file's data section has only {dataLength} bytes (truncated file?)");
        long expected = info.ElementCount * dtype.Size();
        if (info.ByteLength != expected) throw Bad($"{info.ByteLength} bytes for shape {info.ShapeText} {dtypeName}, expected {expected}");
        return info;
    }

    private static void CheckNoOverlap(string path, IEnumerable<TensorInfo> tensors)
    {
        TensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin))
        {
            if (previous is not null && t.Begin < previous.End)
                throw new BambaException($"{path}: tensors '{previous.Name}' and '{t.Name}' overlap in the file");
            previous = t;
        }
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

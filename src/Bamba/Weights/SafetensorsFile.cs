using System.IO.MemoryMappedFiles;
using System.Text.Json;
using System.Text.Unicode;

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
        long length = ResolvedFile.Length(path);
        if (length < 8) throw new BambaException($"{path}: truncated safetensors file ({length} bytes, the 8-byte header length is missing)");
        var (headerLength, headerBytes) = ReadHeader(path, length);
        long dataStart = 8 + headerLength;
        var (tensors, metadata) = ParseHeader(path, headerBytes, length - dataStart);
        if (length == 0) return new SafetensorsFile(path, null, null, null, dataStart, tensors, metadata);
        // Mapped through the link (open follows it); the length checked above is the target's.
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
        ReadExactly(stream, lengthBytes, path);
        long headerLength = BitConverter.ToInt64(lengthBytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes)
            throw new BambaException($"{path}: header length {headerLength} is not plausible (not a safetensors file?)");
        if (8 + headerLength > fileLength)
            throw new BambaException($"{path}: truncated: header says {headerLength} bytes but the file has {fileLength - 8} after the length");
        var header = new byte[headerLength];
        ReadExactly(stream, header, path);
        return (headerLength, header);
    }

    /// <summary>A file that yields fewer bytes than its size said (a device such as /dev/null behind a link) is truncated, not a crash.</summary>
    private static void ReadExactly(Stream stream, Span<byte> buffer, string path)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException) { throw new BambaException($"{path}: truncated: the file ended inside its header"); }
    }

    private static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        if (!Utf8.IsValid(header)) throw new BambaException($"{path}: header is not valid UTF-8 (not a safetensors file?)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new BambaException($"{path}: header is not valid JSON ({e.Message})"); }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BambaException($"{path}: header is not a JSON object");
            var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") { ReadMetadata(path, entry.Value, metadata); continue; }
                if (!tensors.TryAdd(entry.Name, ParseTensor(path, entry.Name, entry.Value, dataLength)))
                    throw new BambaException($"{path}: tensor '{entry.Name}' appears twice in the header");
            }
            CheckNoOverlap(path, tensors.Values);
            return (tensors, metadata);
        }
        catch (InvalidOperationException e) // a name or string escaping to invalid UTF-16 (a lone surrogate)
        {
            throw new BambaException($"{path}: header holds a string that is not valid Unicode ({e.Message})");
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
            ?? throw Bad($"unsupported dtype {dtypeName} (expected F32, BF16, F16, F8_E4M3 or I64)");
        if (!t.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        var shape = sh.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out long v) && v >= 0
            ? v : throw Bad("shape must be a list of non-negative integers")).ToArray();
        if (!t.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw Bad("data_offsets must be [begin, end]");
        var info = new TensorInfo(name, path, dtype, shape, begin, end);
        if (begin < 0 || end < begin) throw Bad($"data_offsets [{begin}, {end}] are not ordered");
        if (end > dataLength) throw Bad($"data ends at byte {end} but the file's data section has only {dataLength} bytes (truncated file?)");
        long expected;
        try { expected = checked(info.ElementCount * dtype.Size()); }
        catch (OverflowException) { throw Bad($"shape {info.ShapeText} has more elements than a file can hold"); }
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

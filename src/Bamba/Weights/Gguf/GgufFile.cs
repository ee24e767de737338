using System.IO.MemoryMappedFiles;

namespace Bamba.Weights.Gguf;

/// <summary>
/// One memory-mapped GGUF v3 file (llama.cpp's format): metadata, tensor infos, and the tensor data read in place.
/// Everything is validated at open (magic, version, counts, string lengths, types, alignment, each tensor's byte
/// range inside the data section, no overlap), so a damaged file fails with one line naming what is wrong and no
/// byte outside the file is ever read. Shapes are given row-major (ggml's <c>ne</c> reversed), as safetensors has them.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;
    private const int MaxDims = 4;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;

    public string Path { get; }
    public uint Version { get; }
    public int Alignment { get; }
    /// <summary>Metadata in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    /// <summary>Tensors in file order.</summary>
    public IReadOnlyList<TensorInfo> TensorList { get; }
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }

    private GgufFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr)
    {
        Path = path; _map = map; _view = view;
        long length = view.Capacity;
        var r = new GgufReader(basePtr, Math.Min(length, new FileInfo(path).Length), path);
        if (r.U32("the magic") != Magic) throw r.Error("not a GGUF file (bad magic)");
        Version = r.U32("the version");
        if (Version is not (2 or 3)) throw r.Error($"GGUF version {Version} is not supported (expected 3)");
        long tensorCount = r.Count("the tensor count", 24);
        long kvCount = r.Count("the metadata count", 13);
        Metadata = ReadMetadata(ref r, kvCount);
        Alignment = ReadAlignment(r);
        var infos = ReadTensorInfos(ref r, tensorCount);
        long dataStart = (r.Position + Alignment - 1) / Alignment * Alignment;
        long fileLength = new FileInfo(path).Length;
        if (dataStart > fileLength && tensorCount > 0) throw r.Error($"truncated: the data section would start at byte {dataStart}, past the end ({fileLength})");
        TensorList = infos.Select(t => CheckRange(r, t, fileLength - dataStart)).ToList();
        Tensors = TensorList.ToDictionary(t => t.Name, StringComparer.Ordinal);
        CheckNoOverlap(r, TensorList);
        _data = basePtr + dataStart;
    }

    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: file not found");
        long length = new FileInfo(path).Length;
        if (length < 24) throw new BambaException($"{path}: truncated GGUF file ({length} bytes, the header alone takes 24)");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        try { return new GgufFile(path, map, view, p + view.PointerOffset); }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    public WeightTensor Get(TensorInfo info) => new(info, _data + info.Begin);

    private static Dictionary<string, GgufValue> ReadMetadata(ref GgufReader r, long count)
    {
        var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            string key = r.String($"metadata key {i}");
            if (!metadata.TryAdd(key, r.Value(key))) throw r.Error($"metadata key '{key}' appears twice");
        }
        return metadata;
    }

    private int ReadAlignment(GgufReader r)
    {
        if (!Metadata.TryGetValue("general.alignment", out var v)) return DefaultAlignment;
        if (v.Type != GgufType.UInt32) throw r.Error($"general.alignment is a {v.Describe()}, expected UInt32");
        long a = (long)v.Value;
        if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0) throw r.Error($"general.alignment {a} is not a power of two");
        return (int)a;
    }

    private List<TensorInfo> ReadTensorInfos(ref GgufReader r, long count)
    {
        var infos = new List<TensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            string name = r.String($"the name of tensor {i}");
            if (!names.Add(name)) throw r.Error($"tensor '{name}' appears twice");
            uint dims = r.U32($"the rank of tensor '{name}'");
            if (dims is 0 or > MaxDims) throw r.Error($"tensor '{name}' has {dims} dimensions, expected 1 to {MaxDims}");
            var ne = new long[dims];
            for (int d = 0; d < dims; d++)
            {
                ulong n = r.U64($"dimension {d} of tensor '{name}'");
                if (n > int.MaxValue * 16UL) throw r.Error($"tensor '{name}' has dimension {d} of {n}, not plausible");
                ne[d] = (long)n;
            }
            var dtype = TensorType(r, name, r.U32($"the type of tensor '{name}'"));
            ulong offset = r.U64($"the offset of tensor '{name}'");
            infos.Add(Describe(r, name, ne, dtype, offset));
        }
        return infos;
    }

    private static DType TensorType(GgufReader r, string name, uint id) =>
        GgmlTypes.FromId(id) ?? throw r.Error(GgmlTypes.OtherName(id) is { } other
            ? $"tensor '{name}' has type {other}, which bamba does not compute with (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)"
            : $"tensor '{name}' has unknown ggml type {id}");

    private TensorInfo Describe(GgufReader r, string name, long[] ne, DType dtype, ulong offset)
    {
        if (ne[0] % dtype.BlockElements() != 0)
            throw r.Error($"tensor '{name}' has rows of {ne[0]} values, not a whole number of {dtype} blocks ({dtype.BlockElements()})");
        if (offset % (ulong)Alignment != 0) throw r.Error($"tensor '{name}' starts at offset {offset}, not a multiple of the alignment {Alignment}");
        long elements;
        try { elements = ne.Aggregate(1L, (a, b) => checked(a * b)); }
        catch (OverflowException) { throw r.Error($"tensor '{name}' has {string.Join(" x ", ne)} elements, too many"); }
        long bytes = dtype.ByteCount(elements);
        if (offset > long.MaxValue / 2) throw r.Error($"tensor '{name}' starts at offset {offset}, past any file");
        return new TensorInfo(name, Path, dtype, ne.Reverse().ToArray(), (long)offset, (long)offset + bytes);
    }

    private static TensorInfo CheckRange(GgufReader r, TensorInfo t, long dataLength) =>
        t.End <= dataLength ? t
            : throw r.Error($"tensor '{t.Name}' ends at byte {t.End} of the data section, which has only {Math.Max(0, dataLength)} (truncated file?)");

    private static void CheckNoOverlap(GgufReader r, IEnumerable<TensorInfo> tensors)
    {
        TensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin))
        {
            if (previous is not null && t.Begin < previous.End)
                throw r.Error($"tensors '{previous.Name}' and '{t.Name}' overlap in the file");
            previous = t;
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}

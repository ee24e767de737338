using System.Text;

namespace Bamba.Weights.Gguf;

/// <summary>
/// A bounds-checked cursor over a GGUF header in memory: every read first checks that its bytes lie inside the file,
/// and every count is checked against the bytes left before anything is allocated for it.
/// </summary>
internal unsafe struct GgufReader(byte* data, long length, string path)
{
    /// <summary>Longest string accepted (keys, names, and a chat template or merge list entry).</summary>
    private const long MaxStringBytes = 64L << 20;

    public long Position { get; private set; }

    public readonly BambaException Error(string what) => new($"{path}: {what}");

    private byte* Take(long bytes, string what)
    {
        if (bytes < 0 || bytes > length - Position)
            throw Error($"truncated: {what} at byte {Position} needs {bytes} bytes, the file has {length - Position} left");
        byte* p = data + Position;
        Position += bytes;
        return p;
    }

    public uint U32(string what) => *(uint*)Take(4, what);
    public ulong U64(string what) => *(ulong*)Take(8, what);

    /// <summary>A count that must fit in the bytes left when each item takes at least <paramref name="minItemBytes"/>.</summary>
    public long Count(string what, int minItemBytes)
    {
        ulong n = U64(what);
        if (n > (ulong)((length - Position) / minItemBytes))
            throw Error($"{what} is {n}, more than the {length - Position} bytes left could hold");
        return (long)n;
    }

    public string String(string what)
    {
        ulong n = U64($"the length of {what}");
        if (n > (ulong)MaxStringBytes) throw Error($"{what}: string length {n} at byte {Position - 8} is not plausible");
        return Encoding.UTF8.GetString(Take((long)n, what), (int)n);
    }

    public GgufValue Value(string key)
    {
        uint raw = U32($"the type of '{key}'");
        var type = (GgufType)raw;
        if (raw > (uint)GgufType.Float64) throw Error($"metadata '{key}' has unknown value type {raw}");
        if (type != GgufType.Array) return new GgufValue(type, Scalar(type, key));
        uint rawElement = U32($"the element type of '{key}'");
        var element = (GgufType)rawElement;
        if (rawElement > (uint)GgufType.Float64) throw Error($"metadata '{key}' is an array of unknown type {rawElement}");
        if (element == GgufType.Array) throw Error($"metadata '{key}' is an array of arrays, which GGUF models do not use");
        long n = Count($"the length of array '{key}'", GgufValue.ScalarSize(element));
        return new GgufValue(type, ArrayOf(element, n, key), element);
    }

    private object ArrayOf(GgufType element, long n, string key)
    {
        if (element == GgufType.String) { var s = new string[n]; for (long i = 0; i < n; i++) s[i] = String($"'{key}'[{i}]"); return s; }
        if (element == GgufType.Bool) { var b = new bool[n]; for (long i = 0; i < n; i++) b[i] = (bool)Scalar(element, key); return b; }
        if (GgufValue.IsFloat(element)) { var d = new double[n]; for (long i = 0; i < n; i++) d[i] = (double)Scalar(element, key); return d; }
        var l = new long[n];
        for (long i = 0; i < n; i++) l[i] = (long)Scalar(element, key);
        return l;
    }

    private object Scalar(GgufType type, string key)
    {
        string what = $"the value of '{key}'";
        return type switch
        {
            GgufType.UInt8 => (long)*Take(1, what),
            GgufType.Int8 => (long)*(sbyte*)Take(1, what),
            GgufType.UInt16 => (long)*(ushort*)Take(2, what),
            GgufType.Int16 => (long)*(short*)Take(2, what),
            GgufType.UInt32 => (long)*(uint*)Take(4, what),
            GgufType.Int32 => (long)*(int*)Take(4, what),
            GgufType.UInt64 => (long)*(ulong*)Take(8, what),
            GgufType.Int64 => *(long*)Take(8, what),
            GgufType.Float32 => (double)*(float*)Take(4, what),
            GgufType.Float64 => *(double*)Take(8, what),
            GgufType.Bool => Bool(*Take(1, what), key),
            _ => String(what),
        };
    }

    private readonly object Bool(byte b, string key) => b <= 1 ? b == 1 : throw Error($"metadata '{key}' holds bool value {b}, expected 0 or 1");
}

namespace Bamba.Weights.Gguf;

/// <summary>The value types of a GGUF metadata entry (gguf.h's <c>gguf_type</c>).</summary>
public enum GgufType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One metadata value with its stored type, so that a file read and written again keeps its types. Integers are held
/// as <c>long</c>, floats as <c>double</c>; an array holds <c>long[]</c>, <c>double[]</c>, <c>bool[]</c> or <c>string[]</c>.
/// </summary>
public sealed record GgufValue(GgufType Type, object Value, GgufType ElementType = GgufType.UInt8)
{
    public static GgufValue UInt32(long v) => new(GgufType.UInt32, v);
    public static GgufValue Float32(double v) => new(GgufType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufType.Bool, v);
    public static GgufValue String(string v) => new(GgufType.String, v);
    public static GgufValue Int32Array(long[] v) => new(GgufType.Array, v, GgufType.Int32);
    public static GgufValue Float32Array(double[] v) => new(GgufType.Array, v, GgufType.Float32);
    public static GgufValue StringArray(string[] v) => new(GgufType.Array, v, GgufType.String);

    public static bool IsInteger(GgufType t) => t is GgufType.UInt8 or GgufType.Int8 or GgufType.UInt16 or GgufType.Int16
        or GgufType.UInt32 or GgufType.Int32 or GgufType.UInt64 or GgufType.Int64;

    public static bool IsFloat(GgufType t) => t is GgufType.Float32 or GgufType.Float64;

    /// <summary>Bytes of one scalar of type <paramref name="t"/> (strings: their 8-byte length, the least they take).</summary>
    public static int ScalarSize(GgufType t) => t switch
    {
        GgufType.UInt8 or GgufType.Int8 or GgufType.Bool => 1,
        GgufType.UInt16 or GgufType.Int16 => 2,
        GgufType.UInt32 or GgufType.Int32 or GgufType.Float32 => 4,
        _ => 8,
    };

    public string Describe() => Type == GgufType.Array ? $"array of {ElementType}" : Type.ToString();
}

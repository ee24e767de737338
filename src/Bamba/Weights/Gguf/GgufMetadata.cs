namespace Bamba.Weights.Gguf;

/// <summary>Typed reads of a GGUF file's metadata: a missing key or a value of the wrong type is one line naming the key.</summary>
public sealed class GgufMetadata(IReadOnlyDictionary<string, GgufValue> values, string path)
{
    public IReadOnlyDictionary<string, GgufValue> Values => values;

    public bool Has(string key) => values.ContainsKey(key);

    private GgufValue Required(string key) =>
        values.TryGetValue(key, out var v) ? v : throw new BambaException($"{path}: missing metadata key '{key}'");

    private BambaException Wrong(string key, GgufValue v, string expected) => new($"{path}: metadata '{key}' is {v.Describe()}, expected {expected}");

    public string String(string key)
    {
        var v = Required(key);
        return v.Type == GgufType.String ? (string)v.Value : throw Wrong(key, v, "a string");
    }

    public string? OptionalString(string key) => Has(key) ? String(key) : null;

    public long Integer(string key)
    {
        var v = Required(key);
        return GgufValue.IsInteger(v.Type) ? (long)v.Value : throw Wrong(key, v, "an integer");
    }

    public int Int(string key)
    {
        long n = Integer(key);
        return n is >= 0 and <= int.MaxValue ? (int)n : throw new BambaException($"{path}: metadata '{key}' is {n}, expected a count");
    }

    public int? OptionalInt(string key) => Has(key) ? Int(key) : null;

    public double Number(string key)
    {
        var v = Required(key);
        return GgufValue.IsFloat(v.Type) ? (double)v.Value : GgufValue.IsInteger(v.Type) ? (long)v.Value : throw Wrong(key, v, "a number");
    }

    public double? OptionalNumber(string key) => Has(key) ? Number(key) : null;

    public bool? OptionalBool(string key)
    {
        if (!values.TryGetValue(key, out var v)) return null;
        return v.Type == GgufType.Bool ? (bool)v.Value : throw Wrong(key, v, "a bool");
    }

    /// <summary>An integer per layer: an array of <paramref name="layers"/> integers, or one integer for all.</summary>
    public int[] PerLayer(string key, int layers)
    {
        var v = Required(key);
        if (GgufValue.IsInteger(v.Type)) return Enumerable.Repeat(Int(key), layers).ToArray();
        if (v.Type != GgufType.Array || !GgufValue.IsInteger(v.ElementType)) throw Wrong(key, v, "an integer or an array of integers");
        var items = (long[])v.Value;
        if (items.Length != layers) throw new BambaException($"{path}: metadata '{key}' has {items.Length} entries, expected one per layer ({layers})");
        return items.Select(n => n is >= 0 and <= int.MaxValue ? (int)n : throw new BambaException($"{path}: metadata '{key}' holds {n}, expected a count")).ToArray();
    }

    public string[]? OptionalStrings(string key)
    {
        if (!values.TryGetValue(key, out var v)) return null;
        return v is { Type: GgufType.Array, ElementType: GgufType.String } ? (string[])v.Value : throw Wrong(key, v, "an array of strings");
    }

    public long[]? OptionalIntegers(string key)
    {
        if (!values.TryGetValue(key, out var v)) return null;
        return v.Type == GgufType.Array && GgufValue.IsInteger(v.ElementType) ? (long[])v.Value : throw Wrong(key, v, "an array of integers");
    }
}

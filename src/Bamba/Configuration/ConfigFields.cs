using System.Globalization;
using System.Text.Json;

namespace Bamba.Configuration;

/// <summary>Typed access to the fields of one config.json object; every error names the file and the field.</summary>
public sealed class ConfigFields(JsonElement obj, string source)
{
    public bool Has(string name) => Get(name) is not null;

    private JsonElement? Get(string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public BambaException Wrong(string name, string expected, JsonElement v) =>
        new($"{source}: field '{name}' must be {expected}, got {Describe(v)}");

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{v.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        _ => v.GetRawText(),
    };

    public int Int(string name, int fallback) => NullableInt(name, fallback) ?? fallback;

    public int? NullableInt(string name, int? fallback)
    {
        if (!obj.TryGetProperty(name, out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.Null) return null;
        return ToInt(name, v);
    }

    private int ToInt(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(name, "an integer", v);

    public bool Bool(string name, bool fallback)
    {
        if (Get(name) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "true or false", v),
        };
    }

    public double Double(string name, double fallback) => Get(name) is { } v ? ToDouble(name, v) : fallback;

    private double ToDouble(string name, JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        if (v.ValueKind == JsonValueKind.String && ParseNonFinite(v.GetString()) is double d) return d;
        // transformers serialises non-finite floats as {"__float__": "Infinity"}.
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("__float__", out var inner)
            && inner.ValueKind == JsonValueKind.String && ParseNonFinite(inner.GetString()) is double e) return e;
        throw Wrong(name, "a number", v);
    }

    private static double? ParseNonFinite(string? s) => s switch
    {
        "Infinity" or "inf" => double.PositiveInfinity,
        "-Infinity" or "-inf" => double.NegativeInfinity,
        "NaN" or "nan" => double.NaN,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null,
    };

    public string String(string name, string fallback) => NullableString(name) ?? fallback;

    public string? NullableString(string name)
    {
        if (Get(name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(name, "a string", v);
    }

    public ConfigFields? Object(string name)
    {
        if (Get(name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.Object ? new ConfigFields(v, $"{source}: {name}") : throw Wrong(name, "an object", v);
    }

    public IReadOnlyList<int>? IntList(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "a list of integers", v);
        return v.EnumerateArray().Select(e => ToInt(name, e)).ToArray();
    }

    public IReadOnlyList<int> IntOrIntList(string name, IReadOnlyList<int> fallback)
    {
        if (!obj.TryGetProperty(name, out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.Null) return [];
        return v.ValueKind == JsonValueKind.Array ? IntList(name)! : [ToInt(name, v)];
    }

    public IReadOnlyList<string>? StringList(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "a list of strings", v);
        return v.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Wrong(name, "a list of strings", e)).ToArray();
    }

    /// <summary>A user error about a field's value, naming the file and the field.</summary>
    public BambaException Invalid(string name, string message) => new($"{source}: {name} {message}");

    public (double Min, double Max) TimeStepLimit(string name)
    {
        if (Get(name) is not { } v) return (0.0, double.PositiveInfinity);
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2) throw Wrong(name, "a list [low, high]", v);
        return (ToDouble(name, v[0]), ToDouble(name, v[1]));
    }

    public int MambaDHead(string name, int intermediate, int heads)
    {
        if (Get(name) is not { } v) return heads > 0 ? intermediate / heads : 0;
        if (v.ValueKind == JsonValueKind.String && v.GetString() == "auto") return heads > 0 ? intermediate / heads : 0;
        return v.ValueKind == JsonValueKind.Number ? ToInt(name, v) : throw Wrong(name, "an integer or \"auto\"", v);
    }
}

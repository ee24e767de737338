using System.Text.Json;

namespace Bamba.Tokenization;

/// <summary>
/// One JSON object of tokenizer.json together with where it sits (file and JSON path), so every format error
/// names the file and the field instead of surfacing a bare <see cref="KeyNotFoundException"/>.
/// </summary>
internal readonly struct TokenizerSpec
{
    private readonly JsonElement _element;

    public TokenizerSpec(JsonElement element, string file, string path)
    {
        _element = element;
        File = file;
        Path = path;
    }

    public string File { get; }
    public string Path { get; }
    public JsonElement Element => _element;

    public BambaException Error(string message) => new($"{File}: {Path}: {message}");

    public bool IsObject => _element.ValueKind == JsonValueKind.Object;

    /// <summary>The "type" tag of a component; missing or non-string is a format error.</summary>
    public string Type => String("type");

    public bool Has(string name) =>
        IsObject && _element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public TokenizerSpec? Optional(string name) =>
        Has(name) ? new TokenizerSpec(_element.GetProperty(name), File, $"{Path}.{name}") : null;

    public TokenizerSpec Required(string name) =>
        Optional(name) ?? throw Error($"missing field '{name}'");

    public string String(string name) =>
        OptionalString(name) ?? throw Error($"missing string field '{name}'");

    public string? OptionalString(string name)
    {
        if (!Has(name)) return null;
        var v = _element.GetProperty(name);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Error($"field '{name}' must be a string");
    }

    public bool Bool(string name, bool fallback)
    {
        if (!Has(name)) return fallback;
        var v = _element.GetProperty(name);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"field '{name}' must be true or false"),
        };
    }

    public int Int(string name, int fallback)
    {
        if (!Has(name)) return fallback;
        var v = _element.GetProperty(name);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i >= 0
            ? i : throw Error($"field '{name}' must be a non-negative integer");
    }

    public double? Double(string name)
    {
        if (!Has(name)) return null;
        var v = _element.GetProperty(name);
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error($"field '{name}' must be a number");
    }

    /// <summary>A single character field (Metaspace replacement, Strip content).</summary>
    public string Char(string name)
    {
        string s = String(name);
        return s.Length > 0 && s.EnumerateRunes().Count() == 1 ? s : throw Error($"field '{name}' must be one character");
    }

    public IEnumerable<TokenizerSpec> Array(string name)
    {
        var list = Required(name);
        if (list._element.ValueKind != JsonValueKind.Array) throw list.Error("must be a list");
        int i = 0;
        foreach (var item in list._element.EnumerateArray())
            yield return new TokenizerSpec(item, File, $"{list.Path}[{i++}]");
    }

    /// <summary>Split/Replace patterns are written <c>{"String": "..."}</c> or <c>{"Regex": "..."}</c>.</summary>
    public TextPattern Pattern(string name)
    {
        var p = Required(name);
        if (p.Has("String")) return TextPattern.Literal(p.String("String"));
        if (p.Has("Regex")) return TextPattern.FromRegex(p.String("Regex"), p);
        throw p.Error("expected {\"String\": ...} or {\"Regex\": ...}");
    }
}

using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Bamba.Generation.Constraints;

/// <summary>
/// Compiles a JSON Schema to a byte-level <see cref="Grammar"/> whose sentences are JSON documents valid against it:
/// type (one or a list), enum, const, properties with required and optional ones (written in the schema's order),
/// additionalProperties, items, minItems/maxItems, minLength/maxLength, anyOf, and $ref into $defs/definitions or the
/// root (recursion included). Annotations (title, description, default, examples ...) are ignored. Anything else
/// throws <see cref="UnsupportedSchemaException"/> naming the keyword and where it is, never a grammar that could let
/// invalid output through. An object with declared properties is generated with those only, which any value of
/// additionalProperties allows.
/// </summary>
public sealed class JsonSchemaGrammar
{
    public const int MaxBound = 4096;

    private static readonly HashSet<string> Annotations =
    [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions",
    ];

    private static readonly HashSet<string> Keywords =
    [
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
        "minLength", "maxLength", "anyOf", "$ref",
    ];

    private static readonly string[] Types = ["object", "array", "string", "number", "integer", "boolean", "null"];

    private readonly JsonElement _root;
    private readonly JsonGrammarParts _json = new();
    private readonly Dictionary<string, GrammarRule> _refs = new(StringComparer.Ordinal);
    private int _rules;

    private JsonSchemaGrammar(JsonElement root) => _root = root;

    /// <summary>The grammar of JSON values valid against <paramref name="schema"/>.</summary>
    public static Grammar Compile(JsonElement schema)
    {
        var compiler = new JsonSchemaGrammar(schema);
        return new Grammar(compiler.Schema(schema, "#"));
    }

    /// <summary>Any JSON object (OpenAI's <c>response_format: json_object</c>).</summary>
    public static Grammar AnyObject()
    {
        using var doc = JsonDocument.Parse("""{"type": "object"}""");
        return Compile(doc.RootElement.Clone());
    }

    private GrammarRule Schema(JsonElement s, string path)
    {
        if (s.ValueKind == JsonValueKind.True) return _json.Value;
        if (s.ValueKind == JsonValueKind.False) throw new UnsupportedSchemaException(path, "false", "the schema 'false' matches nothing");
        if (s.ValueKind != JsonValueKind.Object) throw new UnsupportedSchemaException(path, "schema", "a schema must be an object or a boolean");
        var keywords = CheckKeywords(s, path);
        if (s.TryGetProperty("$ref", out var reference))
        {
            Alone(keywords, "$ref", path);
            return Ref(reference, path);
        }
        if (s.TryGetProperty("anyOf", out var anyOf))
        {
            Alone(keywords, "anyOf", path);
            return AnyOf(anyOf, $"{path}/anyOf");
        }
        var types = TypesOf(s, path);
        if (s.TryGetProperty("const", out var constant)) return Literals([constant], types, keywords, path, "const");
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                throw new UnsupportedSchemaException($"{path}/enum", "enum", "enum must be a non-empty list");
            return Literals([.. values.EnumerateArray()], types, keywords, path, "enum");
        }
        var rule = NewRule(path);
        foreach (var type in types) rule.Or(Typed(s, type, path));
        return rule;
    }

    /// <summary>The schema's keywords that constrain values; an unknown one is refused.</summary>
    private static List<string> CheckKeywords(JsonElement s, string path)
    {
        var keywords = new List<string>();
        foreach (var p in s.EnumerateObject())
        {
            if (Annotations.Contains(p.Name)) continue;
            if (!Keywords.Contains(p.Name))
                throw new UnsupportedSchemaException($"{path}/{p.Name}", p.Name, $"the keyword '{p.Name}' is not supported in constrained decoding");
            keywords.Add(p.Name);
        }
        return keywords;
    }

    private static void Alone(List<string> keywords, string keyword, string path)
    {
        if (keywords.FirstOrDefault(k => k != keyword) is { } other)
            throw new UnsupportedSchemaException($"{path}/{other}", other, $"'{other}' next to '{keyword}' is not supported");
    }

    private GrammarRule Ref(JsonElement reference, string path)
    {
        string pointer = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : "";
        if (_refs.TryGetValue(pointer, out var known)) return known;
        var target = Resolve(pointer, $"{path}/$ref");
        // Registered before compiling the target, so that a recursive schema refers back to this rule.
        var rule = NewRule(pointer);
        _refs[pointer] = rule;
        rule.Or(Schema(target, pointer));
        return rule;
    }

    /// <summary>A local JSON pointer ("#", "#/$defs/node", ...) into the root schema.</summary>
    private JsonElement Resolve(string pointer, string path)
    {
        if (pointer != "#" && !pointer.StartsWith("#/", StringComparison.Ordinal))
            throw new UnsupportedSchemaException(path, "$ref", $"only local references ('#/$defs/...') are supported, got '{pointer}'");
        var node = _root;
        foreach (var raw in pointer.Length <= 2 ? [] : pointer[2..].Split('/'))
        {
            string token = Uri.UnescapeDataString(raw).Replace("~1", "/").Replace("~0", "~");
            bool found = node.ValueKind == JsonValueKind.Object ? node.TryGetProperty(token, out node)
                : node.ValueKind == JsonValueKind.Array && int.TryParse(token, out int i) && i >= 0 && i < node.GetArrayLength()
                  && (node = node[i]).ValueKind != JsonValueKind.Undefined;
            if (!found) throw new UnsupportedSchemaException(path, "$ref", $"the reference '{pointer}' points at nothing");
        }
        return node;
    }

    private GrammarRule AnyOf(JsonElement anyOf, string path)
    {
        if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
            throw new UnsupportedSchemaException(path, "anyOf", "anyOf must be a non-empty list of schemas");
        var rule = NewRule(path);
        int i = 0;
        foreach (var branch in anyOf.EnumerateArray()) rule.Or(Schema(branch, $"{path}/{i++}"));
        return rule;
    }

    private static string[] TypesOf(JsonElement s, string path)
    {
        if (!s.TryGetProperty("type", out var type))
            return s.TryGetProperty("properties", out _) || s.TryGetProperty("additionalProperties", out _) ? ["object"]
                : s.TryGetProperty("items", out _) ? ["array"]
                : Types;
        string[] names = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array when type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                [.. type.EnumerateArray().Select(t => t.GetString()!)],
            _ => throw new UnsupportedSchemaException($"{path}/type", "type", "type must be a string or a list of strings"),
        };
        foreach (var name in names)
            if (!Types.Contains(name))
                throw new UnsupportedSchemaException($"{path}/type", "type", $"unknown type '{name}'");
        return names;
    }

    /// <summary>enum or const: each value written as compact JSON; values of another type than the schema's are dropped.</summary>
    private GrammarRule Literals(JsonElement[] values, string[] types, List<string> keywords, string path, string keyword)
    {
        if (keywords.FirstOrDefault(k => k != "type" && k != keyword) is { } other)
            throw new UnsupportedSchemaException($"{path}/{other}", other, $"'{other}' next to '{keyword}' is not supported");
        var rule = NewRule(path);
        foreach (var value in values)
            if (types.Any(t => IsOfType(value, t))) rule.Or(CompactJson(value));
        if (rule.Alternatives.Count == 0)
            throw new UnsupportedSchemaException($"{path}/{keyword}", keyword, $"no {keyword} value has the schema's type");
        return rule;
    }

    private static bool IsOfType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        _ => value.ValueKind == JsonValueKind.Null,
    };

    private static byte[] CompactJson(JsonElement value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            value.WriteTo(writer);
        return buffer.ToArray();
    }

    private GrammarRule Typed(JsonElement s, string type, string path) => type switch
    {
        "object" => Object(s, path),
        "array" => Array(s, path),
        "string" => String(s, path),
        "number" => _json.Number,
        "integer" => _json.Integer,
        "boolean" => _json.Boolean,
        _ => _json.Null,
    };

    private GrammarRule String(JsonElement s, string path)
    {
        int min = Bound(s, "minLength", path, 0), max = Bound(s, "maxLength", path, -1);
        if (max >= 0 && max < min) throw new UnsupportedSchemaException($"{path}/maxLength", "maxLength", "maxLength is below minLength: nothing matches");
        return _json.String(min, max);
    }

    private GrammarRule Array(JsonElement s, string path)
    {
        var item = s.TryGetProperty("items", out var items) ? Schema(items, $"{path}/items") : _json.Value;
        int min = Bound(s, "minItems", path, 0), max = Bound(s, "maxItems", path, -1);
        if (max >= 0 && max < min) throw new UnsupportedSchemaException($"{path}/maxItems", "maxItems", "maxItems is below minItems: nothing matches");
        if (max == 0) return NewRule(path).Or("[]");
        if (min == 0 && max < 0) return JsonGrammarParts.Delimited($"{path}[]", "[", "]", item, _json.Space);
        var next = new object[] { ",", _json.Space, item };
        var rest = max < 0 ? JsonGrammarParts.Star($"{path},", Grammar.Seq(next)) : _json.UpTo($"{path},", Grammar.Seq(next), max - Math.Max(min, 1));
        var rule = NewRule(path);
        var body = new List<object> { "[", item };
        for (int i = 1; i < min; i++) body.AddRange(next);
        body.Add(rest);
        body.Add("]");
        rule.Or([.. body]);
        if (min == 0) rule.Or("[]");
        return rule;
    }

    private GrammarRule Object(JsonElement s, string path)
    {
        var members = new List<(GrammarRule Member, bool Required)>();
        var required = Required(s, path);
        if (s.TryGetProperty("properties", out var properties))
        {
            if (properties.ValueKind != JsonValueKind.Object)
                throw new UnsupportedSchemaException($"{path}/properties", "properties", "properties must be an object");
            foreach (var p in properties.EnumerateObject())
            {
                var value = Schema(p.Value, $"{path}/properties/{p.Name}");
                members.Add((NewRule($"{path}.{p.Name}").Or(KeyLiteral(p.Name), ":", _json.Space, value), required.Remove(p.Name)));
            }
        }
        if (required.Count > 0)
            throw new UnsupportedSchemaException($"{path}/required", "required", $"the required property '{required.First()}' is not in properties");
        if (members.Count > 0) return Members(members, path);
        var additional = s.TryGetProperty("additionalProperties", out var a) ? a : default;
        if (additional.ValueKind == JsonValueKind.False) return NewRule(path).Or("{}");
        var valueRule = additional.ValueKind is JsonValueKind.Object or JsonValueKind.True ? Schema(additional, $"{path}/additionalProperties") : _json.Value;
        var member = NewRule($"{path}.*").Or(_json.String(), ":", _json.Space, valueRule);
        return JsonGrammarParts.Delimited($"{path}{{}}", "{", "}", member, _json.Space);
    }

    /// <summary>A property name as a JSON string literal.</summary>
    private static string KeyLiteral(string name) => $"\"{JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value}\"";

    private static HashSet<string> Required(JsonElement s, string path)
    {
        if (!s.TryGetProperty("required", out var required)) return [];
        if (required.ValueKind != JsonValueKind.Array || required.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
            throw new UnsupportedSchemaException($"{path}/required", "required", "required must be a list of property names");
        return [.. required.EnumerateArray().Select(r => r.GetString()!)];
    }

    /// <summary>
    /// Declared properties in order, optional ones skippable: first(i) is the rest from property i with nothing written
    /// yet, after(i) the rest once something has been (so it starts with a comma). Linear in the number of properties.
    /// </summary>
    private GrammarRule Members(List<(GrammarRule Member, bool Required)> members, string path)
    {
        int n = members.Count;
        var first = new GrammarRule[n + 1];
        var after = new GrammarRule[n + 1];
        first[n] = NewRule($"{path}{{first{n}}}").Or();
        after[n] = NewRule($"{path}{{after{n}}}").Or();
        for (int i = n - 1; i >= 0; i--)
        {
            var (member, isRequired) = members[i];
            after[i] = NewRule($"{path}{{after{i}}}").Or(",", _json.Space, member, after[i + 1]);
            first[i] = NewRule($"{path}{{first{i}}}").Or(member, after[i + 1]);
            if (!isRequired)
            {
                after[i].Or(after[i + 1]);
                first[i].Or(first[i + 1]);
            }
        }
        return NewRule(path).Or("{", first[0], "}");
    }

    private static int Bound(JsonElement s, string keyword, string path, int absent)
    {
        if (!s.TryGetProperty(keyword, out var v)) return absent;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
            throw new UnsupportedSchemaException($"{path}/{keyword}", keyword, $"{keyword} must be a non-negative integer");
        if (n > MaxBound)
            throw new UnsupportedSchemaException($"{path}/{keyword}", keyword, $"{keyword} above {MaxBound} is not supported in constrained decoding");
        return n;
    }

    private GrammarRule NewRule(string path) => new($"{path}#{_rules++}");
}

/// <summary>A JSON schema construct that constrained decoding cannot enforce (a 400 in the server).</summary>
public sealed class UnsupportedSchemaException(string path, string construct, string message)
    : BambaException($"{message} (at {path})")
{
    /// <summary>Where in the schema, as a JSON pointer ("#/properties/age/minimum").</summary>
    public string Path { get; } = path;
    /// <summary>The keyword or construct.</summary>
    public string Construct { get; } = construct;
}

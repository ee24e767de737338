using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Conversions and Python-like semantics shared by the evaluator, filters and tests.</summary>
internal static class Values
{
    /// <summary>Converts a host (C#) value to a template value: ints to long, lists to List, maps to JinjaDict.</summary>
    public static object? FromHost(object? value) => value switch
    {
        null => null,
        string or long or double or bool or JinjaDict or Namespace or JinjaCallable or Undefined => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        ulong ul => (long)ul,
        float f => (double)f,
        decimal m => (double)m,
        char c => c.ToString(),
        JsonElement element => FromJson(element),
        JsonNode node => FromJson(ToElement(node)),
        ChatMessage message => message.ToTemplateValue(),
        IDictionary<string, object?> map => FromPairs(map),
        IReadOnlyDictionary<string, object?> map => FromPairs(map),
        IDictionary map => FromPairs(map.Cast<DictionaryEntry>().Select(e => new KeyValuePair<string, object?>(e.Key.ToString()!, e.Value))),
        IEnumerable items => items.Cast<object?>().Select(FromHost).ToList(),
        _ => throw new BambaException($"chat template: values of type {value.GetType().Name} cannot be passed to a template"),
    };

    private static JsonElement ToElement(JsonNode node)
    {
        var buffer = new System.IO.MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) node.WriteTo(writer);
        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static JinjaDict FromPairs(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in pairs) dict.Set(key, FromHost(value));
        return dict;
    }

    private static object? FromJson(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String: return element.GetString();
            case JsonValueKind.Number: return element.TryGetInt64(out var l) ? (object)l : element.GetDouble();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Array: return element.EnumerateArray().Select(FromJson).ToList();
            case JsonValueKind.Object:
                var dict = new JinjaDict();
                foreach (var property in element.EnumerateObject()) dict.Set(property.Name, FromJson(property.Value));
                return dict;
            default: return null;
        }
    }

    public static bool IsNumber(object? value) => value is long or double or bool;
    public static bool IsInteger(object? value) => value is long or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Python truthiness: empty strings, zero, empty containers, None and Undefined are false.</summary>
    public static bool IsTruthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        JinjaDict d => d.Count > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    /// <summary>Python ==: numbers by value across int/float/bool, containers element-wise.</summary>
    public static bool AreEqual(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? ToLong(a) == ToLong(b) : ToDouble(a) == ToDouble(b);
        if (a is string sa && b is string sb) return string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is List<object?> la && b is List<object?> lb)
            return la.Count == lb.Count && la.Zip(lb).All(p => AreEqual(p.First, p.Second));
        if (a is JinjaDict da && b is JinjaDict db)
            return da.Count == db.Count && da.All(p => db.TryGet(p.Key, out var v) && AreEqual(p.Value, v));
        return ReferenceEquals(a, b);
    }

    /// <summary>Python ordering for numbers, strings (code point order) and sequences; else null (not comparable).</summary>
    public static int? Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? ToLong(a).CompareTo(ToLong(b)) : ToDouble(a).CompareTo(ToDouble(b));
        if (a is string sa && b is string sb) return Math.Sign(string.CompareOrdinal(sa, sb));
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (AreEqual(la[i], lb[i])) continue;
                return Compare(la[i], lb[i]);
            }
            return la.Count.CompareTo(lb.Count);
        }
        return null;
    }

    /// <summary>Python str(): what <c>{{ value }}</c> prints.</summary>
    public static string ToStr(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python repr(): used for items inside printed lists and dicts.</summary>
    public static string Repr(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => PyFloat.Repr(d),
        string s => ReprString(s),
        JinjaTuple t => t.Count == 1 ? "(" + Repr(t[0]) + ",)" : "(" + string.Join(", ", t.Select(Repr)) + ")",
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        JinjaDict dict => "{" + string.Join(", ", dict.Select(p => Repr(p.Key) + ": " + Repr(p.Value))) + "}",
        Namespace => "<Namespace>",
        JinjaCallable c => $"<function {c.Name}>",
        _ => value.ToString() ?? "",
    };

    private static string ReprString(string s)
    {
        // Python prefers single quotes unless the text contains one and no double quote.
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var body = s.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
        if (quote == '\'') body = body.Replace("'", "\\'");
        return quote + body + quote;
    }

    /// <summary>Items a for loop or filter walks: list items, dict keys, string characters; Undefined is empty.</summary>
    public static List<object?>? TryIterate(object? value) => value switch
    {
        List<object?> list => list,
        JinjaDict dict => dict.Keys.Cast<object?>().ToList(),
        string s => TextElements(s),
        Undefined => [],
        _ => null,
    };

    /// <summary>Python iterates strings by code point; surrogate pairs stay together.</summary>
    public static List<object?> TextElements(string s)
    {
        var result = new List<object?>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else result.Add(s[i].ToString());
        }
        return result;
    }

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        JinjaTuple => "tuple",
        List<object?> => "list",
        JinjaDict => "dict",
        Namespace => "namespace",
        JinjaCallable => "function",
        _ => value.GetType().Name,
    };
}

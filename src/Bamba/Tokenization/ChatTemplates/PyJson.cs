using System.Globalization;
using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// Python's json.dumps as Hugging Face's tojson filter calls it: ensure_ascii=False, separators ", " / ": "
/// (or "," plus newlines when indenting), optional sort_keys. Output must match byte for byte, since the
/// tool schemas it prints become prompt tokens.
/// </summary>
internal static class PyJson
{
    public static string Dumps(object? value, int? indent, bool sortKeys, int line)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, sortKeys, 0, line);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, int? indent, bool sortKeys, int depth, int line)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(Float(d)); break;
            case string s: WriteString(sb, s); break;
            case List<object?> list: WriteList(sb, list, indent, sortKeys, depth, line); break;
            case JinjaDict dict: WriteDict(sb, dict, indent, sortKeys, depth, line); break;
            case Namespace ns: WriteDict(sb, NamespaceAsDict(ns), indent, sortKeys, depth, line); break;
            default:
                throw new BambaException($"chat template line {line}: tojson cannot serialize a value of type {Values.TypeName(value)}");
        }
    }

    private static JinjaDict NamespaceAsDict(Namespace ns)
    {
        var dict = new JinjaDict();
        foreach (var (k, v) in ns.Attributes) dict.Set(k, v);
        return dict;
    }

    private static string Float(double d) => double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyFloat.Repr(d);

    private static void WriteList(StringBuilder sb, List<object?> list, int? indent, bool sortKeys, int depth, int line)
    {
        if (list.Count == 0) { sb.Append("[]"); return; }
        sb.Append('[');
        for (var i = 0; i < list.Count; i++)
        {
            if (i > 0) sb.Append(indent is null ? ", " : ",");
            NewLine(sb, indent, depth + 1);
            Write(sb, list[i], indent, sortKeys, depth + 1, line);
        }
        NewLine(sb, indent, depth);
        sb.Append(']');
    }

    private static void WriteDict(StringBuilder sb, JinjaDict dict, int? indent, bool sortKeys, int depth, int line)
    {
        if (dict.Count == 0) { sb.Append("{}"); return; }
        IEnumerable<KeyValuePair<object, object?>> pairs = dict;
        if (sortKeys) pairs = pairs.OrderBy(p => KeyText(p.Key, line), StringComparer.Ordinal);
        sb.Append('{');
        var first = true;
        foreach (var (key, item) in pairs)
        {
            if (!first) sb.Append(indent is null ? ", " : ",");
            first = false;
            NewLine(sb, indent, depth + 1);
            WriteString(sb, KeyText(key, line));
            sb.Append(": ");
            Write(sb, item, indent, sortKeys, depth + 1, line);
        }
        NewLine(sb, indent, depth);
        sb.Append('}');
    }

    /// <summary>json.dumps turns non-string keys into strings (True -> "true", 1 -> "1").</summary>
    private static string KeyText(object key, int line) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        _ => throw new BambaException($"chat template line {line}: tojson cannot use a {Values.TypeName(key)} as an object key"),
    };

    private static void NewLine(StringBuilder sb, int? indent, int depth)
    {
        if (indent is null) return;
        sb.Append('\n').Append(' ', indent.Value * depth);
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}

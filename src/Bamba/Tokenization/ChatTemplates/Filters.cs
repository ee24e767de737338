using System.Globalization;
using System.Net;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Jinja filters (<c>value | name(args)</c>) that chat templates use; <c>tojson</c> follows Hugging Face's override.</summary>
internal static class Filters
{
    public static object? Apply(string name, object? value, CallArgs args, Interpreter interpreter) => name switch
    {
        "trim" => Methods.Bind(Text(value), "strip", args.Line)!.Invoke(args),
        "length" or "count" => Length(value, args.Line),
        "tojson" => ToJson(value, args),
        "upper" => Text(value).ToUpperInvariant(),
        "lower" => Text(value).ToLowerInvariant(),
        "title" => JinjaTitle(Text(value)),
        "capitalize" => Methods.Bind(Text(value), "capitalize", args.Line)!.Invoke(args),
        "default" or "d" => Default(value, args),
        "join" => Join(value, args),
        "first" => Items(value, name, args).FirstOrDefault(new Undefined("first item")),
        "last" => Items(value, name, args) is { Count: > 0 } last ? last[^1] : new Undefined("last item"),
        "list" => Items(value, name, args).ToList(),
        "string" => Values.ToStr(value),
        "int" => ToInt(value, args),
        "float" => ToFloat(value, args),
        "abs" => Values.IsInteger(value) ? (object)Math.Abs(Values.ToLong(value)) : Math.Abs(Number(value, name, args)),
        "round" => Values.IsInteger(value) ? (object)Values.ToLong(value) : Round(value, args), // Python round(int) stays an int
        "replace" => Methods.Bind(Values.ToStr(value), "replace", args.Line)!.Invoke(args),
        "items" => value is Undefined ? new List<object?>() : Methods.Bind(Dict(value, name, args), "items", args.Line)!.Invoke(args),
        "dictsort" => DictSort(value, args),
        "select" or "reject" => Select(value, args, name == "select", attribute: false),
        "selectattr" or "rejectattr" => Select(value, args, name == "selectattr", attribute: true),
        "map" => Map(value, args, interpreter),
        "unique" => Unique(value, args),
        "reverse" => value is string s ? string.Concat(Values.TextElements(s).AsEnumerable().Reverse()) : Items(value, name, args).AsEnumerable().Reverse().ToList(),
        "sort" => Sort(value, args),
        "min" or "max" => Extreme(value, args, name == "max"),
        "sum" => Sum(value, args),
        "indent" => Indent(Values.ToStr(value), args),
        "safe" => value,
        "e" or "escape" => WebUtility.HtmlEncode(Values.ToStr(value)).Replace("&quot;", "&#34;").Replace("&#39;", "&#39;"),
        "wordcount" => (long)Methods.Split(Values.ToStr(value), CallArgs.Empty(args.Line)).Count,
        _ => throw new BambaException($"chat template line {args.Line}: unknown filter '{name}'"),
    };

    private static string Text(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Values.ToStr(value),
    };

    private static JinjaDict Dict(object? value, string filter, CallArgs args) =>
        value as JinjaDict ?? throw new BambaException($"chat template line {args.Line}: filter '{filter}' needs a mapping, not '{Values.TypeName(value)}'");

    private static List<object?> Items(object? value, string filter, CallArgs args) => Values.TryIterate(value)
        ?? throw new BambaException($"chat template line {args.Line}: filter '{filter}' needs a sequence, not '{Values.TypeName(value)}'");

    private static double Number(object? value, string filter, CallArgs args) => Values.IsNumber(value) ? Values.ToDouble(value)
        : throw new BambaException($"chat template line {args.Line}: filter '{filter}' needs a number, not '{Values.TypeName(value)}'");

    private static long Length(object? value, int line) => value switch
    {
        string s => Values.TextElements(s).Count,
        List<object?> l => l.Count,
        JinjaDict d => d.Count,
        Namespace n => n.Attributes.Count,
        Undefined => 0,
        _ => throw new BambaException($"chat template line {line}: object of type '{Values.TypeName(value)}' has no length"),
    };

    /// <summary>Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys).</summary>
    private static string ToJson(object? value, CallArgs args)
    {
        var indent = args.Get(0, "indent");
        var sortKeys = Values.IsTruthy(args.Get(99, "sort_keys", false));
        if (value is Undefined u) throw Operators.UndefinedError(u, args.Line);
        return PyJson.Dumps(value, indent is null ? null : (int)Values.ToLong(indent), sortKeys, args.Line);
    }

    /// <summary>Jinja's title filter capitalises words split at whitespace, '-', '(', '{', '[' and '&lt;'.</summary>
    private static string JinjaTitle(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        var wordStart = true;
        foreach (var c in s)
        {
            var separator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return sb.ToString();
    }

    private static object? Default(object? value, CallArgs args)
    {
        var fallback = args.Get(0, "default_value", "");
        var boolean = Values.IsTruthy(args.Get(1, "boolean", false));
        return value is Undefined || (boolean && !Values.IsTruthy(value)) ? fallback : value;
    }

    private static string Join(object? value, CallArgs args)
    {
        var separator = Values.ToStr(args.Get(0, "d", ""));
        var attribute = args.Get(1, "attribute");
        var items = Items(value, "join", args);
        if (attribute is not null) items = items.Select(i => Access.Item(i, attribute, args.Line)).ToList();
        return string.Join(separator, items.Select(Values.ToStr));
    }

    private static object? ToInt(object? value, CallArgs args)
    {
        var fallback = args.Get(0, "default", 0L);
        switch (value)
        {
            case long or bool: return Values.ToLong(value);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                var t = s.Trim().Replace("_", "");
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, CallArgs args)
    {
        var fallback = args.Get(0, "default", 0.0);
        if (Values.IsNumber(value)) return Values.ToDouble(value);
        return value is string s && double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : fallback;
    }

    /// <summary>Jinja's round: 'common' is Python round(), 'ceil'/'floor' as named; always a float.</summary>
    private static double Round(object? value, CallArgs args)
    {
        var x = Number(value, "round", args);
        var precision = (int)Values.ToLong(args.Get(0, "precision", 0L));
        var method = Values.ToStr(args.Get(1, "method", "common"));
        var scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, precision, MidpointRounding.ToEven), // Jinja calls Python round(): half to even
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new BambaException($"chat template line {args.Line}: round method must be 'common', 'ceil' or 'floor'"),
        };
    }

    private static List<object?> DictSort(object? value, CallArgs args)
    {
        var caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
        var by = Values.ToStr(args.Get(1, "by", "key"));
        var reverse = Values.IsTruthy(args.Get(2, "reverse", false));
        var pairs = Dict(value, "dictsort", args).Select(p => (object?)new JinjaTuple([p.Key, p.Value])).ToList();
        var position = by == "value" ? 1 : 0;
        return SortBy(pairs, p => ((List<object?>)p!)[position], caseSensitive, reverse, args.Line);
    }

    private static List<object?> SortBy(List<object?> items, Func<object?, object?> key, bool caseSensitive, bool reverse, int line)
    {
        object? Key(object? item)
        {
            var k = key(item);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        var keyed = items.Select((item, index) => (Item: item, Key: Key(item), Index: index)).ToList();
        // Checked up front: an exception thrown inside List.Sort would surface as InvalidOperationException.
        foreach (var k in keyed)
            if (Values.Compare(k.Key, keyed[0].Key) is null)
                throw new BambaException($"chat template line {line}: cannot sort '{Values.TypeName(keyed[0].Key)}' and '{Values.TypeName(k.Key)}' together");
        keyed.Sort((a, b) =>
        {
            var order = Values.Compare(a.Key, b.Key) ?? 0;
            if (reverse) order = -order;
            return order != 0 ? order : a.Index.CompareTo(b.Index); // stable, like Python's sort
        });
        return keyed.Select(p => p.Item).ToList();
    }

    private static List<object?> Sort(object? value, CallArgs args)
    {
        var reverse = Values.IsTruthy(args.Get(0, "reverse", false));
        var caseSensitive = Values.IsTruthy(args.Get(1, "case_sensitive", false));
        var attribute = args.Get(2, "attribute");
        return SortBy(Items(value, "sort", args), item => attribute is null ? item : AttributePath(item, attribute, args.Line), caseSensitive, reverse, args.Line);
    }

    /// <summary>Jinja attribute arguments may be dotted paths ("function.name") or integer indexes.</summary>
    private static object? AttributePath(object? item, object? attribute, int line)
    {
        if (attribute is not string path) return Access.Item(item, attribute, line);
        foreach (var part in path.Split('.'))
            item = long.TryParse(part, out var index) ? Access.Item(item, index, line) : Access.Item(item, part, line);
        return item;
    }

    /// <summary>select/reject apply a test to each item; selectattr/rejectattr to an attribute of it (bare: truthiness).</summary>
    private static List<object?> Select(object? value, CallArgs args, bool keep, bool attribute)
    {
        var offset = attribute ? 1 : 0;
        var attributeName = attribute ? args.Get(0, "attribute") : null;
        var testName = args.Positional.Count > offset ? Values.ToStr(args.Positional[offset]) : null;
        var testArgs = new CallArgs(args.Positional.Skip(offset + 1).ToList(), new(StringComparer.Ordinal), args.Line);
        bool Passes(object? item)
        {
            var subject = attribute ? AttributePath(item, attributeName, args.Line) : item;
            return testName is null ? Values.IsTruthy(subject) : JinjaTests.Apply(testName, subject, testArgs);
        }
        return Items(value, attribute ? (keep ? "selectattr" : "rejectattr") : (keep ? "select" : "reject"), args).Where(i => Passes(i) == keep).ToList();
    }

    /// <summary>map(attribute='x', default=...) picks an attribute; map('filter', args...) applies a filter to each item.</summary>
    private static List<object?> Map(object? value, CallArgs args, Interpreter interpreter)
    {
        var items = Items(value, "map", args);
        if (args.Named.TryGetValue("attribute", out var attribute))
        {
            var fallback = args.Named.GetValueOrDefault("default");
            return items.Select(i => AttributePath(i, attribute, args.Line) is Undefined && args.Named.ContainsKey("default") ? fallback : AttributePath(i, attribute, args.Line)).ToList();
        }
        if (args.Positional.Count == 0) throw new BambaException($"chat template line {args.Line}: map needs a filter name or attribute=");
        var filter = Values.ToStr(args.Positional[0]);
        var filterArgs = new CallArgs(args.Positional.Skip(1).ToList(), args.Named, args.Line);
        return items.Select(i => Apply(filter, i, filterArgs, interpreter)).ToList();
    }

    private static List<object?> Unique(object? value, CallArgs args)
    {
        var caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in Items(value, "unique", args))
        {
            var key = attribute is null ? item : AttributePath(item, attribute, args.Line);
            if (!caseSensitive && key is string s) key = s.ToLowerInvariant();
            if (seen.Any(k => Values.AreEqual(k, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    private static object? Extreme(object? value, CallArgs args, bool max)
    {
        var sorted = SortBy(Items(value, max ? "max" : "min", args), item => args.Get(1, "attribute") is { } a ? AttributePath(item, a, args.Line) : item,
            Values.IsTruthy(args.Get(0, "case_sensitive", false)), reverse: max, args.Line);
        return sorted.Count > 0 ? sorted[0] : new Undefined("empty sequence");
    }

    private static object? Sum(object? value, CallArgs args)
    {
        var attribute = args.Get(0, "attribute");
        object? total = args.Get(1, "start", 0L);
        foreach (var item in Items(value, "sum", args))
            total = Operators.Binary("+", total, attribute is null ? item : AttributePath(item, attribute, args.Line), args.Line);
        return total;
    }

    /// <summary>Jinja's indent: indents every line but the first (unless first=True); blank lines only with blank=True.</summary>
    private static string Indent(string s, CallArgs args)
    {
        var width = args.Get(0, "width", 4L);
        var prefix = width is string w ? w : new string(' ', (int)Values.ToLong(width));
        var first = Values.IsTruthy(args.Get(1, "first", false));
        var blank = Values.IsTruthy(args.Get(2, "blank", false));
        var lines = s.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (i == 0 && !first) continue;
            if (lines[i].Length == 0 && !blank) continue;
            lines[i] = prefix + lines[i];
        }
        return string.Join('\n', lines);
    }
}

using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Python methods templates call on values: str.strip/split/startswith..., dict.items/get..., list.index/count.</summary>
internal static class Methods
{
    private static readonly HashSet<string> ListMutators = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"];
    private static readonly HashSet<string> DictMutators = ["update", "pop", "popitem", "setdefault", "clear"];

    /// <summary>The method <paramref name="name"/> bound to <paramref name="target"/>, or null when it has none.</summary>
    public static JinjaCallable? Bind(object? target, string name, int line)
    {
        Func<CallArgs, object?>? body = target switch
        {
            string s => StringMethod(s, name),
            JinjaDict d => DictMethod(d, name, line),
            List<object?> l => ListMethod(l, name, line),
            _ => null,
        };
        return body is null ? null : new JinjaCallable(name, body);
    }

    private static Func<CallArgs, object?>? StringMethod(string s, string name) => name switch
    {
        "strip" => a => Strip(s, a, start: true, end: true),
        "lstrip" => a => Strip(s, a, start: true, end: false),
        "rstrip" => a => Strip(s, a, start: false, end: true),
        "upper" => _ => s.ToUpperInvariant(),
        "lower" => _ => s.ToLowerInvariant(),
        "title" => _ => PyTitle(s),
        "capitalize" => _ => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
        "split" => a => Split(s, a),
        "splitlines" => _ => SplitLines(s),
        "startswith" => a => Affixes(a).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => a => Affixes(a).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
        "replace" => a => Replace(s, Text(a, 0, "old"), Text(a, 1, "new"), a.Get(2, "count", -1L)),
        "find" => a => (long)s.IndexOf(Text(a, 0, "sub"), StringComparison.Ordinal),
        "count" => a => (long)CountOccurrences(s, Text(a, 0, "x")),
        "join" => a => string.Join(s, (Values.TryIterate(a.Get(0, "iterable")) ?? []).Select(Values.ToStr)),
        "format" => a => Format(s, a),
        "removeprefix" => a => s.StartsWith(Text(a, 0, "prefix"), StringComparison.Ordinal) ? s[Text(a, 0, "prefix").Length..] : s,
        "removesuffix" => a => s.EndsWith(Text(a, 0, "suffix"), StringComparison.Ordinal) ? s[..^Text(a, 0, "suffix").Length] : s,
        "isdigit" => _ => s.Length > 0 && s.All(char.IsDigit),
        "isalpha" => _ => s.Length > 0 && s.All(char.IsLetter),
        "isspace" => _ => s.Length > 0 && s.All(char.IsWhiteSpace),
        "islower" => _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        "isupper" => _ => s.Any(char.IsLetter) && !s.Any(char.IsLower),
        _ => null,
    };

    private static Func<CallArgs, object?>? DictMethod(JinjaDict d, string name, int line) => name switch
    {
        "items" => _ => d.Select(p => (object?)new JinjaTuple([p.Key, p.Value])).ToList(),
        "keys" => _ => d.Keys.Cast<object?>().ToList(),
        "values" => _ => d.ValuesInOrder.ToList(),
        "get" => a => a.Get(0, "key") is { } key && d.TryGet(key, out var value) ? value : a.Get(1, "default"),
        _ when DictMutators.Contains(name) => _ => throw Immutable("dict", name, line),
        _ => null,
    };

    private static Func<CallArgs, object?>? ListMethod(List<object?> l, string name, int line) => name switch
    {
        "index" => a =>
        {
            var i = l.FindIndex(x => Values.AreEqual(x, a.Get(0, "value")));
            return i >= 0 ? (long)i : throw new BambaException($"chat template line {line}: {Values.Repr(a.Get(0, "value"))} is not in list");
        },
        "count" => a => (long)l.Count(x => Values.AreEqual(x, a.Get(0, "value"))),
        _ when ListMutators.Contains(name) => _ => throw Immutable("list", name, line),
        _ => null,
    };

    // Hugging Face renders in an ImmutableSandboxedEnvironment, which refuses in-place changes.
    private static BambaException Immutable(string type, string name, int line) =>
        new($"chat template line {line}: {type}.{name}() is not allowed: chat templates render in an immutable sandbox (use namespace() or '+' instead)");

    private static string Text(CallArgs a, int index, string name) =>
        a.Get(index, name) is string s ? s : throw new BambaException($"chat template line {a.Line}: argument '{name}' must be a string");

    private static string Strip(string s, CallArgs a, bool start, bool end)
    {
        var chars = a.Get(0, "chars");
        if (chars is string set)
        {
            var array = set.ToCharArray();
            return start && end ? s.Trim(array) : start ? s.TrimStart(array) : s.TrimEnd(array);
        }
        return start && end ? s.Trim() : start ? s.TrimStart() : s.TrimEnd();
    }

    /// <summary>str.split: no separator splits on whitespace runs and drops empty parts.</summary>
    public static List<object?> Split(string s, CallArgs a)
    {
        var sep = a.Get(0, "sep");
        var maxSplit = a.Get(1, "maxsplit", -1L) is var m && Values.IsInteger(m) ? Values.ToLong(m) : -1;
        var count = maxSplit < 0 ? int.MaxValue : (int)Math.Min(int.MaxValue, maxSplit + 1);
        if (sep is null or Undefined)
        {
            var parts = s.TrimStart().Split((char[]?)null, count, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && maxSplit < 0) parts[^1] = parts[^1].TrimEnd();
            return parts.Where(p => p.Length > 0).Select(p => (object?)p).ToList();
        }
        if (sep is not string separator || separator.Length == 0)
            throw new BambaException($"chat template line {a.Line}: split() separator must be a non-empty string");
        return s.Split(separator, count).Select(p => (object?)p).ToList();
    }

    private static List<object?> SplitLines(string s)
    {
        var lines = s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).ToList();
        if (s.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static IEnumerable<string> Affixes(CallArgs a) => a.Get(0, "prefix") switch
    {
        string s => [s],
        List<object?> list => list.OfType<string>(),
        var other => throw new BambaException($"chat template line {a.Line}: startswith/endswith needs a string or tuple, not '{Values.TypeName(other)}'"),
    };

    private static string Replace(string s, string old, string replacement, object? count)
    {
        var limit = Values.IsInteger(count) ? Values.ToLong(count) : -1;
        if (limit < 0) return old.Length == 0 ? InsertBetweenAll(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        var pos = 0;
        for (var done = 0L; done < limit; done++)
        {
            var at = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0) break;
            sb.Append(s, pos, at - pos).Append(replacement);
            pos = at + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertBetweenAll(string s, string insert) =>
        insert + string.Concat(Values.TextElements(s).Select(c => (string)c! + insert));

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return Values.TextElements(s).Count + 1;
        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>Python str.title(): a letter after a non-letter is upper-cased, others lower-cased.</summary>
    public static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    /// <summary>str.format with "{}", "{0}" and "{name}" fields (no format specs) and "{{" / "}}" escapes.</summary>
    private static string Format(string s, CallArgs a)
    {
        var sb = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            var close = s.IndexOf('}', i);
            if (close < 0) throw new BambaException($"chat template line {a.Line}: unmatched '{{' in format string");
            var field = s[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!'))
                throw new BambaException($"chat template line {a.Line}: unsupported construct: format spec in '{{{field}}}'");
            object? value = field.Length == 0 ? a.Get(auto++, "\0")
                : int.TryParse(field, out var index) ? a.Get(index, "\0")
                : a.Named.TryGetValue(field, out var named) ? named
                : throw new BambaException($"chat template line {a.Line}: format() has no argument '{field}'");
            sb.Append(Values.ToStr(value));
            i = close;
        }
        return sb.ToString();
    }
}

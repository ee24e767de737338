namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// <c>obj.name</c> and <c>obj[key]</c>. Like Jinja, a dot first looks for a method (<c>dict.items</c>,
/// <c>str.strip</c>) and then for a key; a missing key or index gives Undefined instead of failing.
/// </summary>
internal static class Access
{
    public static object? Attribute(object? target, string name, int line)
    {
        if (name.Length > 0 && char.IsDigit(name[0])) return Item(target, long.Parse(name), line);
        var method = Methods.Bind(target, name, line);
        if (method is not null) return method;
        return target switch
        {
            JinjaDict dict => dict.TryGet(name, out var value) ? value : new Undefined(name),
            Namespace ns => ns.Attributes.TryGetValue(name, out var value) ? value : new Undefined(name),
            _ => new Undefined(name),
        };
    }

    public static object? Item(object? target, object? key, int line)
    {
        switch (target)
        {
            case JinjaDict dict:
                if (key is not null && dict.TryGet(key, out var value)) return value;
                return key is string name && Methods.Bind(target, name, line) is { } method ? method : new Undefined(Describe(key));
            case Namespace ns:
                return key is string attr && ns.Attributes.TryGetValue(attr, out var nsValue) ? nsValue : new Undefined(Describe(key));
            case List<object?> list when Values.IsInteger(key):
                return ElementAt(list.Count, Values.ToLong(key), i => list[i], key);
            case string s when Values.IsInteger(key):
                var chars = Values.TextElements(s);
                return ElementAt(chars.Count, Values.ToLong(key), i => chars[i], key);
            case Undefined u:
                return new Undefined(u.Name + "[" + Describe(key) + "]");
            default:
                return key is string attribute ? Attribute(target, attribute, line) : new Undefined(Describe(key));
        }
    }

    private static object? ElementAt(int count, long index, Func<int, object?> get, object? key)
    {
        var i = index < 0 ? index + count : index;
        return i >= 0 && i < count ? get((int)i) : new Undefined(Describe(key));
    }

    private static string Describe(object? key) => Values.Repr(key);
}

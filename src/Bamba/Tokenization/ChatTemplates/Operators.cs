namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Python semantics for arithmetic, membership and slicing on template values.</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b, int line)
    {
        if (op == "~") return Values.ToStr(a) + Values.ToStr(b);
        if (a is Undefined ua) throw UndefinedError(ua, line);
        if (b is Undefined ub) throw UndefinedError(ub, line);
        var result = op switch
        {
            "+" => Add(a, b),
            "-" => Numeric(a, b, (x, y) => x - y, (x, y) => x - y),
            "*" => Multiply(a, b),
            "/" => Values.IsNumber(a) && Values.IsNumber(b) ? Divide(Values.ToDouble(a), Values.ToDouble(b), line) : null,
            "//" => FloorDivide(a, b, line),
            "%" => Modulo(a, b, line),
            "**" => Power(a, b),
            _ => null,
        };
        return result ?? throw new BambaException(
            $"chat template line {line}: unsupported operand types for {op}: '{Values.TypeName(a)}' and '{Values.TypeName(b)}'");
    }

    public static BambaException UndefinedError(Undefined u, int line) => new($"chat template line {line}: '{u.Name}' is undefined");

    private static object? Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => x + y,
        (JinjaTuple x, JinjaTuple y) => new JinjaTuple(x.Concat(y)),
        (List<object?> x, List<object?> y) => x.Concat(y).ToList(),
        _ => Numeric(a, b, (x, y) => x + y, (x, y) => x + y),
    };

    private static object? Numeric(object? a, object? b, Func<long, long, long> ints, Func<double, double, double> floats)
    {
        if (!Values.IsNumber(a) || !Values.IsNumber(b)) return null;
        return Values.IsInteger(a) && Values.IsInteger(b) ? (object)ints(Values.ToLong(a), Values.ToLong(b)) : floats(Values.ToDouble(a), Values.ToDouble(b));
    }

    private static object? Multiply(object? a, object? b)
    {
        if (a is string s && Values.IsInteger(b)) return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, Values.ToLong(b))));
        if (b is string s2 && Values.IsInteger(a)) return Multiply(s2, a);
        if (a is List<object?> list && Values.IsInteger(b))
            return Enumerable.Repeat(list, (int)Math.Max(0, Values.ToLong(b))).SelectMany(x => x).ToList();
        if (b is List<object?> && Values.IsInteger(a)) return Multiply(b, a);
        return Numeric(a, b, (x, y) => x * y, (x, y) => x * y);
    }

    private static object Divide(double x, double y, int line) =>
        y == 0 ? throw new BambaException($"chat template line {line}: division by zero") : x / y;

    private static object? FloorDivide(object? a, object? b, int line)
    {
        if (!Values.IsNumber(a) || !Values.IsNumber(b)) return null;
        if (Values.ToDouble(b) == 0) throw new BambaException($"chat template line {line}: division by zero");
        if (Values.IsInteger(a) && Values.IsInteger(b))
        {
            long x = Values.ToLong(a), y = Values.ToLong(b);
            var q = x / y;
            return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
        }
        return Math.Floor(Values.ToDouble(a) / Values.ToDouble(b));
    }

    private static object? Modulo(object? a, object? b, int line)
    {
        if (!Values.IsNumber(a) || !Values.IsNumber(b)) return null;
        if (Values.ToDouble(b) == 0) throw new BambaException($"chat template line {line}: modulo by zero");
        if (Values.IsInteger(a) && Values.IsInteger(b))
        {
            long x = Values.ToLong(a), y = Values.ToLong(b);
            var r = x % y;
            return r != 0 && (r < 0) != (y < 0) ? r + y : r; // Python: the result takes the divisor's sign
        }
        double fx = Values.ToDouble(a), fy = Values.ToDouble(b);
        var fr = fx % fy;
        return fr != 0 && (fr < 0) != (fy < 0) ? fr + fy : fr;
    }

    private static object? Power(object? a, object? b)
    {
        if (!Values.IsNumber(a) || !Values.IsNumber(b)) return null;
        if (Values.IsInteger(a) && Values.IsInteger(b) && Values.ToLong(b) >= 0)
        {
            long result = 1, x = Values.ToLong(a);
            for (var i = 0L; i < Values.ToLong(b); i++) result *= x;
            return result;
        }
        return Math.Pow(Values.ToDouble(a), Values.ToDouble(b));
    }

    /// <summary>Python's <c>in</c>: substring for strings, element for lists, key for dicts; nothing is in Undefined.</summary>
    public static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new BambaException($"chat template line {line}: 'in <string>' requires a string on the left, not '{Values.TypeName(item)}'"),
        List<object?> list => list.Any(x => Values.AreEqual(x, item)),
        JinjaDict dict => item is not null && dict.ContainsKey(item),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined => false,
        _ => throw new BambaException($"chat template line {line}: argument of type '{Values.TypeName(container)}' is not iterable"),
    };

    /// <summary>Python slice semantics (negative indices, negative step, clamping).</summary>
    public static List<int> SliceIndices(int length, long? start, long? stop, long? step, int line)
    {
        var s = step ?? 1;
        if (s == 0) throw new BambaException($"chat template line {line}: slice step cannot be zero");
        long Clamp(long? value, long fallback, long low, long high)
        {
            if (value is null) return fallback;
            var v = value.Value < 0 ? value.Value + length : value.Value;
            return Math.Clamp(v, low, high);
        }
        var indices = new List<int>();
        if (s > 0)
        {
            var from = Clamp(start, 0, 0, length);
            var to = Clamp(stop, length, 0, length);
            for (var i = from; i < to; i += s) indices.Add((int)i);
        }
        else
        {
            var from = Clamp(start, length - 1, -1, length - 1);
            var to = Clamp(stop, -1, -1, length - 1);
            for (var i = from; i > to; i += s) indices.Add((int)i);
        }
        return indices;
    }
}

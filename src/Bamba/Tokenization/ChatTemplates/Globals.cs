using System.Globalization;
using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Functions every template can call: range, namespace, dict, raise_exception and strftime_now (the last two are Hugging Face additions).</summary>
internal static class Globals
{
    public static void AddTo(Scope scope, Func<DateTime> clock)
    {
        scope.Set("range", new JinjaCallable("range", Range));
        scope.Set("namespace", new JinjaCallable("namespace", MakeNamespace));
        scope.Set("dict", new JinjaCallable("dict", MakeDict));
        scope.Set("raise_exception", new JinjaCallable("raise_exception", args =>
            throw new ChatTemplateRaisedException(Values.ToStr(args.Get(0, "message", "")))));
        scope.Set("strftime_now", new JinjaCallable("strftime_now", args => Strftime(clock(), Values.ToStr(args.Get(0, "format", "")), args.Line)));
    }

    private static object? Range(CallArgs args)
    {
        var numbers = args.Positional.Select(v => Values.IsInteger(v) ? Values.ToLong(v)
            : throw new BambaException($"chat template line {args.Line}: range() needs integers, not '{Values.TypeName(v)}'")).ToList();
        var (start, stop, step) = numbers.Count switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new BambaException($"chat template line {args.Line}: range() takes 1 to 3 arguments"),
        };
        if (step == 0) throw new BambaException($"chat template line {args.Line}: range() step must not be zero");
        var result = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            result.Add(i);
            if (result.Count > 1_000_000) throw new BambaException($"chat template line {args.Line}: range() is too large");
        }
        return result;
    }

    /// <summary>namespace(a=1) or namespace({'a': 1}): the mutable holder templates use to carry values out of loops.</summary>
    private static object? MakeNamespace(CallArgs args)
    {
        var ns = new Namespace();
        foreach (var positional in args.Positional)
        {
            if (positional is not JinjaDict dict) throw new BambaException($"chat template line {args.Line}: namespace() takes a dict or keyword arguments");
            foreach (var (key, value) in dict) ns.Attributes[Values.ToStr(key)] = value;
        }
        foreach (var (key, value) in args.Named) ns.Attributes[key] = value;
        return ns;
    }

    private static object? MakeDict(CallArgs args)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in args.Named) dict.Set(key, value);
        return dict;
    }

    /// <summary>Python's datetime.strftime for the directives templates use (%d %m %Y %B %b %A %a %H %M %S %y %j %p %I %%, and %-d style).</summary>
    public static string Strftime(DateTime time, string format, int line)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            var noPad = format[i + 1] == '-' && i + 2 < format.Length;
            var code = format[noPad ? i + 2 : i + 1];
            i += noPad ? 2 : 1;
            string Num(int value, int width) => noPad ? value.ToString(inv) : value.ToString(new string('0', width), inv);
            sb.Append(code switch
            {
                'd' => Num(time.Day, 2),
                'm' => Num(time.Month, 2),
                'Y' => time.Year.ToString(inv),
                'y' => Num(time.Year % 100, 2),
                'B' => time.ToString("MMMM", inv),
                'b' or 'h' => time.ToString("MMM", inv),
                'A' => time.ToString("dddd", inv),
                'a' => time.ToString("ddd", inv),
                'H' => Num(time.Hour, 2),
                'I' => Num(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Num(time.Minute, 2),
                'S' => Num(time.Second, 2),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Num(time.DayOfYear, 3),
                'w' => ((int)time.DayOfWeek).ToString(inv),
                'e' => time.Day.ToString(inv).PadLeft(2),
                'F' => time.ToString("yyyy-MM-dd", inv),
                'T' => time.ToString("HH:mm:ss", inv),
                '%' => "%",
                _ => throw new BambaException($"chat template line {line}: strftime_now does not support '%{code}'"),
            });
        }
        return sb.ToString();
    }
}

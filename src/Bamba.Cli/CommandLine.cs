using System.Globalization;

namespace Bamba.Cli;

/// <summary>Parsed <c>--name value</c> / <c>--switch</c> arguments of one command; unknown or missing flags are user errors.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    /// <summary>Messages name the flag only: the host prefixes them with <c>bamba COMMAND:</c>.</summary>
    public CommandLine(IReadOnlyList<string> args, IReadOnlySet<string> switches)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
                throw new BambaException($"unexpected argument '{a}' (flags start with --)");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (!switches.Contains(name))
            {
                if (i + 1 >= args.Count) throw new BambaException($"--{name} needs a value");
                value = args[++i];
            }
            if (!_values.TryAdd(name, value)) throw new BambaException($"--{name} given twice");
        }
    }

    public bool Has(string name) { _read.Add(name); return _values.ContainsKey(name); }

    public bool Switch(string name) => Has(name);

    public string? String(string name) { _read.Add(name); return _values.GetValueOrDefault(name); }

    public string Required(string name) =>
        String(name) ?? throw new BambaException($"--{name} is required");

    public int Int(string name, int fallback, int min = int.MinValue)
    {
        string? s = String(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min)
            throw new BambaException($"--{name} expects an integer ≥ {min}, got '{s}'");
        return v;
    }

    public long? Long(string name)
    {
        string? s = String(name);
        if (s is null) return null;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            throw new BambaException($"--{name} expects an integer, got '{s}'");
        return v;
    }

    public float Float(string name, float fallback, float min = float.NegativeInfinity, float max = float.PositiveInfinity)
    {
        string? s = String(name);
        if (s is null) return fallback;
        // 1e308 parses to infinity in a float: refused like any other value out of range.
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v) || !(v >= min && v <= max))
            throw new BambaException($"--{name} expects a number in [{min}, {max}], got '{s}'");
        return v;
    }

    public string Choice(string name, string fallback, params string[] allowed)
    {
        string v = String(name) ?? fallback;
        if (Array.IndexOf(allowed, v) < 0)
            throw new BambaException($"--{name} must be one of {string.Join(", ", allowed)}, got '{v}'");
        return v;
    }

    public static int[] ParseIds(string flag, string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]) || ids[i] < 0)
                throw new BambaException($"--{flag}: '{parts[i]}' is not a token id (expected comma-separated non-negative integers)");
        if (ids.Length == 0) throw new BambaException($"--{flag}: no token ids given");
        return ids;
    }

    /// <summary>Throws for any flag the command never asked about, so typos do not pass silently.</summary>
    public void EnsureAllUsed()
    {
        foreach (var name in _values.Keys)
            if (!_read.Contains(name)) throw new BambaException($"unknown flag --{name}");
    }
}

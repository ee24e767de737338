using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Bamba.Cli;

/// <summary>
/// The flags given to one command, read by name from System.CommandLine's parse. Values are checked here, so
/// messages name the flag and what it expects (the host prefixes them with <c>bamba COMMAND:</c>).
/// </summary>
internal sealed class CommandLine
{
    private readonly ParseResult _result;
    private readonly IReadOnlyDictionary<string, Symbol> _symbols;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public CommandLine(ParseResult result, IReadOnlyDictionary<string, Symbol> symbols)
    {
        _result = result;
        _symbols = symbols;
    }

    public bool Has(string name)
    {
        _read.Add(name);
        return Given(name);
    }

    public bool Switch(string name) => Has(name);

    /// <summary>Whether the command takes <c>--name</c> at all (shared code serving several commands asks first).</summary>
    public bool Declares(string name) => _symbols.ContainsKey(name);

    public string? String(string name)
    {
        _read.Add(name);
        if (!Given(name)) return null;
        return _symbols[name] switch
        {
            Option<string> option => _result.GetValue(option),
            Argument<string> argument => _result.GetValue(argument),
            _ => throw new InvalidOperationException($"--{name} is a switch, not a value"),
        };
    }

    /// <summary>Every value of a repeated flag, in the order given (empty when absent).</summary>
    public string[] Strings(string name)
    {
        _read.Add(name);
        if (!Given(name)) return [];
        return _symbols[name] is Option<string[]> option ? _result.GetValue(option) ?? []
            : throw new InvalidOperationException($"--{name} is not declared repeatable");
    }

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

    /// <summary>
    /// Throws for a flag the command accepts but never read on this path (e.g. <c>--profile</c> without
    /// <c>--device cuda</c>), so a flag that would do nothing does not pass silently.
    /// </summary>
    public void EnsureAllUsed()
    {
        foreach (var name in _symbols.Keys)
            if (Given(name) && !_read.Contains(name))
                throw new BambaException($"--{name} does not apply with the other flags given (see --help)");
    }

    private bool Given(string name)
    {
        if (!_symbols.TryGetValue(name, out var symbol))
            throw new InvalidOperationException($"the command reads --{name} but does not declare it");
        return _result.GetResult(symbol) switch
        {
            OptionResult option => !option.Implicit,
            ArgumentResult argument => argument.Tokens.Count > 0,
            _ => false,
        };
    }
}

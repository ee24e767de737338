namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Positional and keyword arguments of a call, filter or test, with the template line for errors.</summary>
internal sealed class CallArgs
{
    public CallArgs(List<object?> positional, Dictionary<string, object?> named, int line)
    {
        Positional = positional;
        Named = named;
        Line = line;
    }

    public List<object?> Positional { get; }
    public Dictionary<string, object?> Named { get; }
    public int Line { get; }

    public static CallArgs Empty(int line) => new([], new(StringComparer.Ordinal), line);

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count) return Positional[index];
        return Named.TryGetValue(name, out var value) ? value : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Count || Named.ContainsKey(name);
}

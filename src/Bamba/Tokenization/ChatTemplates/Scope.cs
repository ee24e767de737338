namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// Variable frame. for-loop iterations and macro calls get a child frame, so <c>set</c> inside them does not
/// leak out (Jinja's rule that makes templates use <c>namespace()</c> to carry values out of loops).
/// </summary>
internal sealed class Scope
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);
    private readonly Scope? _parent;

    public Scope(Scope? parent) => _parent = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
            if (scope._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// Jinja's default Undefined: renders as "", is falsy, iterates as empty. Attribute and item access on it give
/// another Undefined (lenient, like ChainableUndefined) so optional message fields can be probed safely.
/// </summary>
internal sealed class Undefined
{
    public Undefined(string name) => Name = name;
    public string Name { get; }
    public override string ToString() => "";
}

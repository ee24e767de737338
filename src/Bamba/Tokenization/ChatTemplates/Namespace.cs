namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Result of <c>namespace(...)</c>: the one mutable object templates may assign into (<c>set ns.x = ...</c>).</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

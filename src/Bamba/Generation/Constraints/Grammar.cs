using System.Text;

namespace Bamba.Generation.Constraints;

/// <summary>One symbol of a grammar alternative: a byte class or a reference to a rule.</summary>
public abstract record GrammarElement;

public sealed record Terminal(ByteSet Bytes) : GrammarElement;

public sealed record RuleRef(GrammarRule Rule) : GrammarElement;

/// <summary>A nonterminal: a choice between sequences of elements. An empty sequence is ε.</summary>
public sealed class GrammarRule(string name)
{
    public string Name { get; } = name;
    public List<GrammarElement[]> Alternatives { get; } = [];

    public GrammarRule Or(params object[] parts)
    {
        Alternatives.Add(Grammar.Seq(parts));
        return this;
    }

    public override string ToString() => Name;
}

/// <summary>
/// A context-free grammar over bytes (UTF-8), as the JSON-schema compiler builds it: rules whose alternatives are
/// sequences of byte classes and rule references. It must not be left-recursive (a rule reached again before any
/// byte is consumed); <see cref="GrammarMatcher"/> reports such a grammar when it meets the loop.
/// </summary>
public sealed class Grammar(GrammarRule root)
{
    public GrammarRule Root { get; } = root;

    /// <summary>A sequence from parts: a string is its UTF-8 bytes in order, a <see cref="ByteSet"/> one terminal,
    /// a rule a reference, an element array spliced in.</summary>
    public static GrammarElement[] Seq(params object[] parts)
    {
        var elements = new List<GrammarElement>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case string s:
                    foreach (byte b in Encoding.UTF8.GetBytes(s)) elements.Add(new Terminal(ByteSet.Of(b)));
                    break;
                case byte[] bytes:
                    foreach (byte b in bytes) elements.Add(new Terminal(ByteSet.Of(b)));
                    break;
                case ByteSet set: elements.Add(new Terminal(set)); break;
                case GrammarRule rule: elements.Add(new RuleRef(rule)); break;
                case GrammarElement element: elements.Add(element); break;
                case GrammarElement[] run: elements.AddRange(run); break;
                default: throw new ArgumentException($"not a grammar part: {part}");
            }
        }
        return [.. elements];
    }
}

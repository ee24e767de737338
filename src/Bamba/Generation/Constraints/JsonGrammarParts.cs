namespace Bamba.Generation.Constraints;

/// <summary>
/// The pieces of JSON text as grammar rules over UTF-8 bytes: strings (escapes and well-formed multi-byte UTF-8, no
/// lone surrogates), numbers, literals and any JSON value. Output is compact, with at most one space after ':' and ','.
/// Numbers have at most 16 integer digits, 16 fraction digits and 3 exponent digits, so that a number always ends.
/// </summary>
internal sealed class JsonGrammarParts
{
    public const int MaxIntegerDigits = 16, MaxFractionDigits = 16, MaxExponentDigits = 3;

    private static readonly ByteSet Digit = ByteSet.Range('0', '9');
    private static readonly ByteSet Hex = Digit | ByteSet.Range('a', 'f') | ByteSet.Range('A', 'F');
    private static readonly ByteSet Continuation = ByteSet.Range(0x80, 0xBF);

    private readonly Dictionary<(int, int), GrammarRule> _strings = [];
    private readonly Dictionary<(string, int), GrammarRule> _upTo = [];
    private GrammarRule? _value;

    public JsonGrammarParts()
    {
        Space = new GrammarRule("space").Or().Or(" ");
        Char = BuildChar();
        var intPart = new GrammarRule("int").Or("0").Or(ByteSet.Range('1', '9'), UpTo("digit", Digit, MaxIntegerDigits - 1));
        Integer = new GrammarRule("integer").Or(intPart).Or("-", intPart);
        var fraction = new GrammarRule("fraction").Or().Or(".", Digit, UpTo("digit", Digit, MaxFractionDigits - 1));
        var exponent = new GrammarRule("exponent").Or()
            .Or(ByteSet.Chars("eE"), new GrammarRule("sign").Or().Or(ByteSet.Chars("+-")), Digit, UpTo("digit", Digit, MaxExponentDigits - 1));
        Number = new GrammarRule("number").Or(Integer, fraction, exponent);
        Boolean = new GrammarRule("boolean").Or("true").Or("false");
        Null = new GrammarRule("null").Or("null");
    }

    /// <summary>Nothing or one space (after ':' and ',').</summary>
    public GrammarRule Space { get; }
    /// <summary>One character inside a string: an escape or one UTF-8 encoded code point.</summary>
    public GrammarRule Char { get; }
    public GrammarRule Integer { get; }
    public GrammarRule Number { get; }
    public GrammarRule Boolean { get; }
    public GrammarRule Null { get; }

    /// <summary>A string of <paramref name="min"/> to <paramref name="max"/> characters (max −1 = unbounded).</summary>
    public GrammarRule String(int min = 0, int max = -1)
    {
        if (_strings.TryGetValue((min, max), out var rule)) return rule;
        var body = new List<object> { "\"" };
        for (int i = 0; i < min; i++) body.Add(Char);
        body.Add(max < 0 ? Star("char", Char) : UpTo("char", Char, max - min));
        body.Add("\"");
        rule = new GrammarRule($"string{{{min},{max}}}").Or([.. body]);
        _strings[(min, max)] = rule;
        return rule;
    }

    /// <summary>Any JSON value.</summary>
    public GrammarRule Value => _value ??= BuildValue();

    /// <summary>Zero or more <paramref name="item"/>s.</summary>
    public static GrammarRule Star(string name, object item)
    {
        var star = new GrammarRule(name + "*");
        return star.Or().Or(item, star);
    }

    /// <summary>Zero to <paramref name="count"/> <paramref name="item"/>s (a chain of optional ones, shared per count).</summary>
    public GrammarRule UpTo(string name, object item, int count)
    {
        if (_upTo.TryGetValue((name, count), out var rule)) return rule;
        rule = new GrammarRule($"{name}{{0,{count}}}").Or();
        if (count > 0) rule.Or(item, UpTo(name, item, count - 1));
        _upTo[(name, count)] = rule;
        return rule;
    }

    /// <summary>A list between brackets: items separated by ',' and an optional space.</summary>
    public static GrammarRule Delimited(string name, string open, string close, object item, GrammarRule space)
    {
        var more = new GrammarRule(name + "-more");
        more.Or().Or(",", space, item, more);
        return new GrammarRule(name).Or(open, close).Or(open, item, more, close);
    }

    private GrammarRule BuildValue()
    {
        var value = new GrammarRule("value");
        var member = new GrammarRule("member").Or(String(), ":", Space, value);
        value.Or(Delimited("object", "{", "}", member, Space)).Or(Delimited("array", "[", "]", value, Space))
            .Or(String()).Or(Number).Or(Boolean).Or(Null);
        return value;
    }

    private static GrammarRule BuildChar()
    {
        var plain = ByteSet.Range(0x20, 0x7F) - ByteSet.Chars("\"\\");
        var notSurrogate = new GrammarRule("hex4")
            .Or(Hex - ByteSet.Chars("dD"), Hex, Hex, Hex)
            .Or(ByteSet.Chars("dD"), ByteSet.Range('0', '7'), Hex, Hex);
        return new GrammarRule("char")
            .Or(plain)
            .Or("\\", ByteSet.Chars("\"\\/bfnrt"))
            .Or("\\u", notSurrogate)
            // Well-formed UTF-8 (RFC 3629 table): no overlong forms, no surrogates, nothing past U+10FFFF.
            .Or(ByteSet.Range(0xC2, 0xDF), Continuation)
            .Or(ByteSet.Of(0xE0), ByteSet.Range(0xA0, 0xBF), Continuation)
            .Or(ByteSet.Range(0xE1, 0xEC) | ByteSet.Range(0xEE, 0xEF), Continuation, Continuation)
            .Or(ByteSet.Of(0xED), ByteSet.Range(0x80, 0x9F), Continuation)
            .Or(ByteSet.Of(0xF0), ByteSet.Range(0x90, 0xBF), Continuation, Continuation)
            .Or(ByteSet.Range(0xF1, 0xF3), Continuation, Continuation, Continuation)
            .Or(ByteSet.Of(0xF4), ByteSet.Range(0x80, 0x8F), Continuation, Continuation);
    }
}

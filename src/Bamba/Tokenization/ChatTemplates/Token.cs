namespace Bamba.Tokenization.ChatTemplates;

internal enum TokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One lexer token; <see cref="Line"/> is 1-based and feeds every error message.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string value) => Is(TokenKind.Name, value);
    public bool IsOperator(string value) => Is(TokenKind.Operator, value);

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VariableEnd => "'}}'",
        TokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}

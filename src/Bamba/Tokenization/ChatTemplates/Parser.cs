namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Builds the statement tree from lexer tokens. Expression parsing lives in Parser.Expressions.cs.</summary>
internal sealed partial class Parser
{
    private static readonly HashSet<string> ClosingTags =
        ["elif", "else", "endif", "endfor", "endset", "endmacro", "endfilter", "endgeneration", "endraw"];

    private readonly List<Token> _tokens;
    private int _index;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        var (body, _) = parser.ParseBody(opener: null, []);
        return body;
    }

    private Token Current => _tokens[_index];
    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];
    private Token Next() => _tokens[_index++];

    private static BambaException Error(int line, string message) => new($"chat template line {line}: {message}");

    private Token Expect(TokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
            throw Error(token.Line, $"expected {(value is null ? kind.ToString() : $"'{value}'")} but found {token.Describe()}");
        _index++;
        return token;
    }

    private string ExpectName() => Expect(TokenKind.Name).Value;

    /// <summary>
    /// Parses text, output and block statements until one of <paramref name="endTags"/> opens a block tag.
    /// Returns the statements and the end tag found (its name consumed, the rest of its tag not).
    /// </summary>
    private (List<Stmt> Body, string? EndTag) ParseBody(Token? opener, string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (opener is null) return (body, null);
                    throw Error(opener.Value.Line, $"unclosed '{opener.Value.Value}' block: expected '{{% {endTags[^1]} %}}' before the end of the template");
                case TokenKind.Text:
                    body.Add(new TextStmt(Next().Value, token.Line));
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    body.Add(new OutputStmt(ParseTupleOrExpression(), token.Line));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && endTags.Contains(name.Value))
                    {
                        _index += 2;
                        return (body, name.Value);
                    }
                    if (opener is not null && name.Kind == TokenKind.Name && ClosingTags.Contains(name.Value))
                        throw Error(name.Line, $"unexpected '{{% {name.Value} %}}': the '{opener.Value.Value}' block opened on line {opener.Value.Line} expects '{{% {endTags[^1]} %}}'");
                    Next();
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error(token.Line, $"unexpected {token.Describe()}");
            }
        }
    }

    private Stmt ParseStatement()
    {
        var tag = Current;
        if (tag.Kind != TokenKind.Name) throw Error(tag.Line, $"expected a tag name after '{{%' but found {tag.Describe()}");
        Next();
        return tag.Value switch
        {
            "if" => ParseIf(tag),
            "for" => ParseFor(tag),
            "set" => ParseSet(tag),
            "macro" => ParseMacro(tag),
            "filter" => ParseFilterBlock(tag),
            "generation" => ParseGeneration(tag),
            "break" => EndSimple(new BreakStmt(tag.Line)),
            "continue" => EndSimple(new ContinueStmt(tag.Line)),
            _ when ClosingTags.Contains(tag.Value)
                => throw Error(tag.Line, $"unexpected '{{% {tag.Value} %}}' without a matching opening tag"),
            _ => throw Error(tag.Line, $"unsupported tag '{tag.Value}' (supported: if, for, set, macro, filter, raw, generation, break, continue)"),
        };
    }

    private Stmt EndSimple(Stmt stmt)
    {
        Expect(TokenKind.BlockEnd);
        return stmt;
    }

    private Stmt ParseIf(Token tag)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        var condition = ParseExpression();
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var (body, end) = ParseBody(tag, ["elif", "else", "endif"]);
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (end == "else")
            {
                Expect(TokenKind.BlockEnd);
                var (elseBody, _) = ParseBody(tag, ["endif"]);
                Expect(TokenKind.BlockEnd);
                return new IfStmt(branches, elseBody, tag.Line);
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, null, tag.Line);
        }
    }

    private Stmt ParseFor(Token tag)
    {
        var targets = ParseTargetNames();
        Expect(TokenKind.Name, "in");
        var iterable = ParseTupleOrExpression(allowConditional: false);
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            Next();
            filter = ParseExpression();
        }
        if (Current.IsName("recursive")) throw Error(Current.Line, "unsupported construct 'recursive' for loops");
        Expect(TokenKind.BlockEnd);
        var (body, end) = ParseBody(tag, ["else", "endfor"]);
        List<Stmt>? elseBody = null;
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd);
            (elseBody, _) = ParseBody(tag, ["endfor"]);
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(targets, iterable, filter, body, elseBody, tag.Line);
    }

    private List<string> ParseTargetNames()
    {
        var parenthesized = Current.IsOperator("(");
        if (parenthesized) Next();
        var names = new List<string> { ExpectName() };
        while (Current.IsOperator(","))
        {
            Next();
            names.Add(ExpectName());
        }
        if (parenthesized) Expect(TokenKind.Operator, ")");
        return names;
    }

    private Stmt ParseSet(Token tag)
    {
        var targets = ParseTargetNames();
        string? attribute = null;
        if (targets.Count == 1 && Current.IsOperator("."))
        {
            Next();
            attribute = ExpectName();
        }
        if (Current.IsOperator("="))
        {
            Next();
            var value = ParseTupleOrExpression();
            Expect(TokenKind.BlockEnd);
            return new SetStmt(targets, attribute, value, null, tag.Line);
        }
        if (targets.Count != 1) throw Error(tag.Line, "block '{% set %}' takes a single name");
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(tag, ["endset"]);
        Expect(TokenKind.BlockEnd);
        return new SetStmt(targets, attribute, null, body, tag.Line);
    }

    private Stmt ParseMacro(Token tag)
    {
        var name = ExpectName();
        Expect(TokenKind.Operator, "(");
        var parameters = new List<(string, Expr?)>();
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            var parameter = ExpectName();
            Expr? fallback = null;
            if (Current.IsOperator("="))
            {
                Next();
                fallback = ParseExpression();
            }
            parameters.Add((parameter, fallback));
        }
        Next();
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(tag, ["endmacro"]);
        if (Current.Kind == TokenKind.Name) Next(); // Jinja allows {% endmacro name %}.
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, parameters, body, tag.Line);
    }

    private Stmt ParseFilterBlock(Token tag)
    {
        var name = ExpectName();
        var args = Current.IsOperator("(") ? ParseCallArguments() : Arguments.None;
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(tag, ["endfilter"]);
        Expect(TokenKind.BlockEnd);
        return new FilterBlockStmt(name, args, body, tag.Line);
    }

    private Stmt ParseGeneration(Token tag)
    {
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(tag, ["endgeneration"]);
        Expect(TokenKind.BlockEnd);
        return new GenerationStmt(body, tag.Line);
    }
}

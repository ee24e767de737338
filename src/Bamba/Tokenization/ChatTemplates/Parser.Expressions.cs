using System.Globalization;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Expression grammar with Jinja's precedence: conditional, or, and, not, comparisons, + -, ~, * / // %, **, unary, then postfix/filters/tests.</summary>
internal sealed partial class Parser
{
    private static readonly HashSet<string> ComparisonOperators = ["==", "!=", "<", ">", "<=", ">="];
    private static readonly HashSet<string> NotATestArgument = ["else", "or", "and", "if", "is", "in", "not"];

    /// <summary>An expression, or a tuple when commas follow (<c>{% set a, b = 1, 2 %}</c>, <c>for k, v in ...</c>).</summary>
    private Expr ParseTupleOrExpression(bool allowConditional = true)
    {
        var line = Current.Line;
        var first = ParseExpression(allowConditional);
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (Current.IsOperator(","))
        {
            Next();
            if (Current.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd) break;
            items.Add(ParseExpression(allowConditional));
        }
        return new TupleExpr(items, line);
    }

    private Expr ParseExpression(bool allowConditional = true) => allowConditional ? ParseConditional() : ParseOr();

    private Expr ParseConditional()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var line = Next().Line;
            var condition = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                Next();
                otherwise = ParseConditional();
            }
            expr = new ConditionalExpr(condition, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        var line = Next().Line;
        return new UnaryExpr("not", ParseNot(), line);
    }

    private Expr ParseCompare()
    {
        var line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && ComparisonOperators.Contains(Current.Value))
                rest.Add((Next().Value, ParseMath1()));
            else if (Current.IsName("in"))
            {
                Next();
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                _index += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseBinaryLevel(Func<Expr> operand, params string[] operators)
    {
        var left = operand();
        while (Current.Kind == TokenKind.Operator && operators.Contains(Current.Value))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, operand(), op.Line);
        }
        return left;
    }

    private Expr ParseMath1() => ParseBinaryLevel(ParseConcat, "+", "-");
    private Expr ParseConcat() => ParseBinaryLevel(ParseMath2, "~");
    private Expr ParseMath2() => ParseBinaryLevel(ParsePow, "*", "/", "//", "%");
    private Expr ParsePow() => ParseBinaryLevel(() => ParseUnary(), "**");

    private Expr ParseUnary(bool withFilter = true)
    {
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Value, ParseUnary(withFilter: false), op.Line);
        }
        else node = ParsePostfix(ParsePrimary());
        return withFilter ? ParseFilters(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ => new NameExpr(token.Value, token.Line),
                };
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value; // adjacent literals join, as in Python
                return new LiteralExpr(text, token.Line);
            case TokenKind.Integer:
                if (!long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var integer))
                    throw Error(token.Line, $"integer literal {token.Value} is too large");
                return new LiteralExpr(integer, token.Line);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Operator when token.Value == "(":
                return ParseParenthesized(token);
            case TokenKind.Operator when token.Value == "[":
                return new ListExpr(ParseSequence("]"), token.Line);
            case TokenKind.Operator when token.Value == "{":
                return ParseDict(token);
            default:
                throw Error(token.Line, $"unexpected {token.Describe()} in expression");
        }
    }

    private Expr ParseParenthesized(Token open)
    {
        if (Current.IsOperator(")"))
        {
            Next();
            return new TupleExpr([], open.Line);
        }
        var first = ParseExpression();
        if (Current.IsOperator(")"))
        {
            Next();
            return first;
        }
        var items = new List<Expr> { first };
        while (Current.IsOperator(","))
        {
            Next();
            if (Current.IsOperator(")")) break;
            items.Add(ParseExpression());
        }
        Expect(TokenKind.Operator, ")");
        return new TupleExpr(items, open.Line);
    }

    private List<Expr> ParseSequence(string close)
    {
        var items = new List<Expr>();
        while (!Current.IsOperator(close))
        {
            if (items.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOperator(close)) break;
            }
            items.Add(ParseExpression());
        }
        Next();
        return items;
    }

    private Expr ParseDict(Token open)
    {
        var pairs = new List<(Expr, Expr)>();
        while (!Current.IsOperator("}"))
        {
            if (pairs.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOperator("}")) break;
            }
            var key = ParseExpression();
            Expect(TokenKind.Operator, ":");
            pairs.Add((key, ParseExpression()));
        }
        Next();
        return new DictExpr(pairs, open.Line);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("."))
            {
                var dot = Next();
                var name = Current.Kind is TokenKind.Name or TokenKind.Integer
                    ? Next().Value
                    : throw Error(dot.Line, $"expected an attribute name after '.' but found {Current.Describe()}");
                node = new AttributeExpr(node, name, dot.Line);
            }
            else if (Current.IsOperator("[")) node = ParseSubscript(node, Next());
            else if (Current.IsOperator("(")) node = new CallExpr(node, ParseCallArguments(), Current.Line);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target, Token open)
    {
        Expr? start = null, stop = null, step = null;
        if (!Current.IsOperator(":")) start = ParseExpression();
        if (Current.IsOperator("]"))
        {
            Next();
            return new IndexExpr(target, start!, open.Line);
        }
        Expect(TokenKind.Operator, ":");
        if (!Current.IsOperator(":") && !Current.IsOperator("]")) stop = ParseExpression();
        if (Current.IsOperator(":"))
        {
            Next();
            if (!Current.IsOperator("]")) step = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(target, start, stop, step, open.Line);
    }

    private Arguments ParseCallArguments()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (Current.IsOperator(")")) break;
            }
            if (Current.IsOperator("*") || Current.IsOperator("**"))
                throw Error(Current.Line, "unsupported construct: '*args' / '**kwargs' in calls");
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                var name = Next().Value;
                Next();
                named.Add((name, ParseExpression()));
            }
            else if (named.Count > 0) throw Error(Current.Line, "positional argument after keyword argument");
            else positional.Add(ParseExpression());
        }
        Next();
        return new Arguments(positional, named);
    }

    /// <summary>Filters (<c>|name(args)</c>), tests (<c>is [not] name</c>) and calls chain left to right after a unary operand.</summary>
    private Expr ParseFilters(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                var pipe = Next();
                var name = ExpectName();
                var args = Current.IsOperator("(") ? ParseCallArguments() : Arguments.None;
                node = new FilterExpr(node, name, args, pipe.Line);
            }
            else if (Current.IsName("is")) node = ParseTest(node, Next());
            else if (Current.IsOperator("(")) node = new CallExpr(node, ParseCallArguments(), Current.Line);
            else return node;
        }
    }

    private Expr ParseTest(Expr input, Token isToken)
    {
        var negated = false;
        if (Current.IsName("not"))
        {
            Next();
            negated = true;
        }
        var name = Current.Kind == TokenKind.Name ? Next().Value : throw Error(isToken.Line, $"expected a test name after 'is' but found {Current.Describe()}");
        Arguments args;
        if (Current.IsOperator("(")) args = ParseCallArguments();
        else if (StartsTestArgument(Current)) args = new Arguments([ParsePostfix(ParsePrimary())], []);
        else args = Arguments.None;
        return new TestExpr(input, name, args, negated, isToken.Line);
    }

    private static bool StartsTestArgument(Token token) => token.Kind switch
    {
        TokenKind.Name => !NotATestArgument.Contains(token.Value),
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Operator => token.Value is "[" or "{",
        _ => false,
    };
}

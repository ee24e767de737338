namespace Bamba.Tokenization.ChatTemplates;

// Template syntax tree. Every node keeps its 1-based source line so runtime errors can name it.

internal abstract record Node(int Line);

internal abstract record Expr(int Line) : Node(Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);
internal sealed record NameExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line) : Expr(Line);
internal sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);
internal sealed record IndexExpr(Expr Target, Expr Index, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record CallExpr(Expr Callee, Arguments Args, int Line) : Expr(Line);
internal sealed record FilterExpr(Expr Input, string Name, Arguments Args, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Input, string Name, Arguments Args, bool Negated, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest, int Line) : Expr(Line);
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Line) : Expr(Line);

internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named)
{
    public static readonly Arguments None = new([], []);
}

internal abstract record Stmt(int Line) : Node(Line);

internal sealed record TextStmt(string Text, int Line) : Stmt(Line);
internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);
internal sealed record IfStmt(IReadOnlyList<(Expr Condition, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? Else, int Line) : Stmt(Line);
internal sealed record ForStmt(IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt>? Else, int Line) : Stmt(Line);

/// <summary><c>set x = e</c>, <c>set a, b = e</c>, <c>set ns.attr = e</c>, or block form <c>set x %}...{% endset</c>.</summary>
internal sealed record SetStmt(IReadOnlyList<string> Targets, string? Attribute, Expr? Value, IReadOnlyList<Stmt>? Body, int Line) : Stmt(Line);
internal sealed record MacroStmt(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record FilterBlockStmt(string Name, Arguments Args, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

/// <summary><c>{% generation %}</c>: transformers uses it to mark assistant tokens; rendering just outputs the body.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record BreakStmt(int Line) : Stmt(Line);
internal sealed record ContinueStmt(int Line) : Stmt(Line);

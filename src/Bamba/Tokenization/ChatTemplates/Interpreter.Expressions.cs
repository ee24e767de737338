namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Expression evaluation: names, literals, attribute/item access, calls, filters, tests and operators.</summary>
internal sealed partial class Interpreter
{
    public object? Evaluate(Expr expr, Scope scope) => expr switch
    {
        LiteralExpr l => l.Value,
        NameExpr n => Lookup(n.Name, scope),
        ListExpr l => l.Items.Select(item => Evaluate(item, scope)).ToList(),
        TupleExpr t => new JinjaTuple(t.Items.Select(item => Evaluate(item, scope))),
        DictExpr d => EvaluateDict(d, scope),
        AttributeExpr a => Access.Attribute(Evaluate(a.Target, scope), a.Name, a.Line),
        IndexExpr i => Access.Item(Evaluate(i.Target, scope), Evaluate(i.Index, scope), i.Line),
        SliceExpr s => EvaluateSlice(s, scope),
        CallExpr c => EvaluateCall(c, scope),
        FilterExpr f => Filters.Apply(f.Name, Evaluate(f.Input, scope), EvaluateArguments(f.Args, scope, f.Line), this),
        TestExpr t => JinjaTests.Apply(t.Name, Evaluate(t.Input, scope), EvaluateArguments(t.Args, scope, t.Line)) != t.Negated,
        UnaryExpr u => EvaluateUnary(u, scope),
        BinaryExpr b => EvaluateBinary(b, scope),
        CompareExpr c => EvaluateCompare(c, scope),
        ConditionalExpr c => Values.IsTruthy(Evaluate(c.Condition, scope))
            ? Evaluate(c.Then, scope)
            : c.Else is null ? new Undefined("else branch") : Evaluate(c.Else, scope),
        _ => throw new BambaException($"chat template line {expr.Line}: unsupported expression {expr.GetType().Name}"),
    };

    private object? Lookup(string name, Scope scope) => scope.TryGet(name, out var value) ? value : new Undefined(name);

    private JinjaDict EvaluateDict(DictExpr expr, Scope scope)
    {
        var dict = new JinjaDict();
        foreach (var (key, value) in expr.Pairs)
        {
            var k = Evaluate(key, scope);
            if (k is null or Undefined or List<object?> or JinjaDict)
                throw new BambaException($"chat template line {expr.Line}: a dict key cannot be of type '{Values.TypeName(k)}'");
            dict.Set(k, Evaluate(value, scope));
        }
        return dict;
    }

    public CallArgs EvaluateArguments(Arguments args, Scope scope, int line)
    {
        var positional = args.Positional.Select(a => Evaluate(a, scope)).ToList();
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in args.Named) named[name] = Evaluate(value, scope);
        return new CallArgs(positional, named, line);
    }

    private object? EvaluateCall(CallExpr call, Scope scope)
    {
        var callee = Evaluate(call.Callee, scope);
        var args = EvaluateArguments(call.Args, scope, call.Line);
        return callee switch
        {
            JinjaCallable c => c.Invoke(args),
            Undefined u => throw new BambaException($"chat template line {call.Line}: '{u.Name}' is undefined and cannot be called"),
            _ => throw new BambaException($"chat template line {call.Line}: a value of type '{Values.TypeName(callee)}' is not callable"),
        };
    }

    private object? EvaluateSlice(SliceExpr slice, Scope scope)
    {
        var target = Evaluate(slice.Target, scope);
        long? Bound(Expr? e)
        {
            if (e is null) return null;
            var v = Evaluate(e, scope);
            return v is null ? null : Values.IsInteger(v) ? Values.ToLong(v)
                : throw new BambaException($"chat template line {slice.Line}: slice indices must be integers, not '{Values.TypeName(v)}'");
        }
        var (start, stop, step) = (Bound(slice.Start), Bound(slice.Stop), Bound(slice.Step));
        switch (target)
        {
            case string s:
                var chars = Values.TextElements(s);
                return string.Concat(Operators.SliceIndices(chars.Count, start, stop, step, slice.Line).Select(i => (string)chars[i]!));
            case List<object?> list:
                var picked = Operators.SliceIndices(list.Count, start, stop, step, slice.Line).Select(i => list[i]);
                return list is JinjaTuple ? new JinjaTuple(picked) : picked.ToList();
            case Undefined:
                return target;
            default:
                throw new BambaException($"chat template line {slice.Line}: a value of type '{Values.TypeName(target)}' cannot be sliced");
        }
    }

    private object? EvaluateUnary(UnaryExpr expr, Scope scope)
    {
        var value = Evaluate(expr.Operand, scope);
        if (expr.Op == "not") return !Values.IsTruthy(value);
        if (value is Undefined u) throw Operators.UndefinedError(u, expr.Line);
        if (!Values.IsNumber(value))
            throw new BambaException($"chat template line {expr.Line}: bad operand type for unary {expr.Op}: '{Values.TypeName(value)}'");
        if (expr.Op == "+") return Values.IsInteger(value) ? Values.ToLong(value) : value;
        return Values.IsInteger(value) ? (object)(-Values.ToLong(value)) : -Values.ToDouble(value);
    }

    /// <summary>'and'/'or' short-circuit and return an operand, as in Python (<c>x or 'default'</c>).</summary>
    private object? EvaluateBinary(BinaryExpr expr, Scope scope)
    {
        var left = Evaluate(expr.Left, scope);
        switch (expr.Op)
        {
            case "and": return Values.IsTruthy(left) ? Evaluate(expr.Right, scope) : left;
            case "or": return Values.IsTruthy(left) ? left : Evaluate(expr.Right, scope);
            default: return Operators.Binary(expr.Op, left, Evaluate(expr.Right, scope), expr.Line);
        }
    }

    private object? EvaluateCompare(CompareExpr expr, Scope scope)
    {
        var left = Evaluate(expr.First, scope);
        foreach (var (op, operand) in expr.Rest)
        {
            var right = Evaluate(operand, scope);
            if (!CompareOnce(op, left, right, expr.Line)) return false;
            left = right;
        }
        return true;
    }

    private static bool CompareOnce(string op, object? left, object? right, int line)
    {
        switch (op)
        {
            case "==": return Values.AreEqual(left, right);
            case "!=": return !Values.AreEqual(left, right);
            case "in": return Operators.Contains(right, left, line);
            case "not in": return !Operators.Contains(right, left, line);
        }
        var order = Values.Compare(left, right)
            ?? throw new BambaException($"chat template line {line}: '{op}' not supported between '{Values.TypeName(left)}' and '{Values.TypeName(right)}'");
        return op switch { "<" => order < 0, ">" => order > 0, "<=" => order <= 0, _ => order >= 0 };
    }
}

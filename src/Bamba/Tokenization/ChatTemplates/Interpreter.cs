using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Runs statements against a scope, appending to an output buffer. Expressions are in Interpreter.Expressions.cs.</summary>
internal sealed partial class Interpreter
{
    private enum Flow { Normal, Break, Continue }

    private readonly Scope _globals;

    public Interpreter(Scope globals) => _globals = globals;

    public string Render(IReadOnlyList<Stmt> body)
    {
        var output = new StringBuilder();
        Execute(body, new Scope(_globals), output);
        return output.ToString();
    }

    private Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = ExecuteOne(stmt, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecuteOne(Stmt stmt, Scope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt text: output.Append(text.Text); return Flow.Normal;
            case OutputStmt o: output.Append(Values.ToStr(Evaluate(o.Value, scope))); return Flow.Normal;
            case IfStmt i: return ExecuteIf(i, scope, output);
            case ForStmt f: ExecuteFor(f, scope, output); return Flow.Normal;
            case SetStmt s: ExecuteSet(s, scope); return Flow.Normal;
            case MacroStmt m: scope.Set(m.Name, DefineMacro(m, scope)); return Flow.Normal;
            case FilterBlockStmt fb: output.Append(Values.ToStr(ApplyFilterBlock(fb, scope))); return Flow.Normal;
            case GenerationStmt g: return Execute(g.Body, scope, output);
            case BreakStmt: return Flow.Break;
            case ContinueStmt: return Flow.Continue;
            default: throw new BambaException($"chat template line {stmt.Line}: unsupported statement {stmt.GetType().Name}");
        }
    }

    private Flow ExecuteIf(IfStmt stmt, Scope scope, StringBuilder output)
    {
        foreach (var (condition, body) in stmt.Branches)
            if (Values.IsTruthy(Evaluate(condition, scope))) return Execute(body, scope, output);
        return stmt.Else is null ? Flow.Normal : Execute(stmt.Else, scope, output);
    }

    private void ExecuteFor(ForStmt stmt, Scope scope, StringBuilder output)
    {
        var source = Evaluate(stmt.Iterable, scope);
        var items = Values.TryIterate(source)
            ?? throw new BambaException($"chat template line {stmt.Line}: cannot loop over a value of type '{Values.TypeName(source)}'");
        if (stmt.Filter is not null) items = items.Where(item => Values.IsTruthy(Evaluate(stmt.Filter, BindTargets(stmt, item, scope)))).ToList();
        if (items.Count == 0)
        {
            if (stmt.Else is not null) Execute(stmt.Else, new Scope(scope), output);
            return;
        }
        for (var i = 0; i < items.Count; i++)
        {
            var iteration = BindTargets(stmt, items[i], scope);
            iteration.Set("loop", LoopVariable(items, i, stmt.Line));
            if (Execute(stmt.Body, iteration, output) == Flow.Break) break;
        }
    }

    /// <summary>A fresh frame per iteration holding the loop targets; <c>for k, v in pairs</c> unpacks each item.</summary>
    private static Scope BindTargets(ForStmt stmt, object? item, Scope parent)
    {
        var scope = new Scope(parent);
        AssignTargets(stmt.Targets, item, scope, stmt.Line);
        return scope;
    }

    private static void AssignTargets(IReadOnlyList<string> targets, object? value, Scope scope, int line)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        var parts = Values.TryIterate(value) ?? throw new BambaException($"chat template line {line}: cannot unpack a value of type '{Values.TypeName(value)}'");
        if (parts.Count != targets.Count)
            throw new BambaException($"chat template line {line}: expected {targets.Count} values to unpack, got {parts.Count}");
        for (var i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }

    private static JinjaDict LoopVariable(List<object?> items, int i, int line)
    {
        var loop = new JinjaDict();
        loop.Set("index", (long)i + 1);
        loop.Set("index0", (long)i);
        loop.Set("revindex", (long)(items.Count - i));
        loop.Set("revindex0", (long)(items.Count - i - 1));
        loop.Set("first", i == 0);
        loop.Set("last", i == items.Count - 1);
        loop.Set("length", (long)items.Count);
        loop.Set("depth", 1L);
        loop.Set("depth0", 0L);
        loop.Set("previtem", i > 0 ? items[i - 1] : new Undefined("loop.previtem"));
        loop.Set("nextitem", i + 1 < items.Count ? items[i + 1] : new Undefined("loop.nextitem"));
        loop.Set("cycle", new JinjaCallable("loop.cycle", args =>
            args.Positional.Count == 0
                ? throw new BambaException($"chat template line {line}: loop.cycle needs at least one value")
                : args.Positional[i % args.Positional.Count]));
        return loop;
    }

    private void ExecuteSet(SetStmt stmt, Scope scope)
    {
        object? value;
        if (stmt.Body is not null)
        {
            var buffer = new StringBuilder();
            Execute(stmt.Body, scope, buffer);
            value = buffer.ToString();
        }
        else value = Evaluate(stmt.Value!, scope);

        if (stmt.Attribute is null)
        {
            AssignTargets(stmt.Targets, value, scope, stmt.Line);
            return;
        }
        var target = Lookup(stmt.Targets[0], scope);
        if (target is not Namespace ns)
            throw new BambaException($"chat template line {stmt.Line}: cannot assign attribute '{stmt.Attribute}' on '{stmt.Targets[0]}', which is not a namespace()");
        ns.Attributes[stmt.Attribute] = value;
    }

    /// <summary>A macro is a callable that renders its body in a new frame over the scope where it was defined.</summary>
    private JinjaCallable DefineMacro(MacroStmt macro, Scope definition)
    {
        return new JinjaCallable(macro.Name, args =>
        {
            if (args.Positional.Count > macro.Parameters.Count)
                throw new BambaException($"chat template line {args.Line}: macro '{macro.Name}' takes at most {macro.Parameters.Count} arguments, got {args.Positional.Count}");
            var frame = new Scope(definition);
            for (var i = 0; i < macro.Parameters.Count; i++)
            {
                var (name, fallback) = macro.Parameters[i];
                object? value;
                if (i < args.Positional.Count) value = args.Positional[i];
                else if (args.Named.TryGetValue(name, out var named)) value = named;
                else value = fallback is null ? new Undefined(name) : Evaluate(fallback, frame);
                frame.Set(name, value);
            }
            var output = new StringBuilder();
            Execute(macro.Body, frame, output);
            return output.ToString();
        });
    }

    private object? ApplyFilterBlock(FilterBlockStmt stmt, Scope scope)
    {
        var buffer = new StringBuilder();
        Execute(stmt.Body, scope, buffer);
        return Filters.Apply(stmt.Name, buffer.ToString(), EvaluateArguments(stmt.Args, scope, stmt.Line), this);
    }
}

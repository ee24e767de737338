namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Jinja tests: <c>x is defined</c>, <c>x is string</c>, <c>x is divisibleby 3</c>, ...</summary>
internal static class JinjaTests
{
    public static bool Apply(string name, object? value, CallArgs args)
    {
        object? Arg() => args.Positional.Count > 0 ? args.Positional[0]
            : throw new BambaException($"chat template line {args.Line}: test '{name}' needs an argument");
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "string" => value is string,
            "number" => value is long or double or bool, // Python bools are ints, so Jinja counts them as numbers
            "integer" => value is long,
            "float" => value is double,
            "mapping" => value is JinjaDict,
            "sequence" => value is string or List<object?> or JinjaDict,
            "iterable" => value is string or List<object?> or JinjaDict or Undefined, // Jinja's Undefined iterates as empty
            "callable" => value is JinjaCallable,
            "odd" => Values.IsInteger(value) && Values.ToLong(value) % 2 != 0,
            "even" => Values.IsInteger(value) && Values.ToLong(value) % 2 == 0,
            "divisibleby" => Values.IsInteger(value) && Values.IsInteger(Arg()) && Values.ToLong(value) % Values.ToLong(Arg()) == 0,
            "lower" => value is string s && s == s.ToLowerInvariant(),
            "upper" => value is string u && u == u.ToUpperInvariant(),
            "eq" or "equalto" or "==" => Values.AreEqual(value, Arg()),
            "ne" or "!=" => !Values.AreEqual(value, Arg()),
            "lt" or "lessthan" or "<" => Order(value, Arg(), args.Line) < 0,
            "le" or "<=" => Order(value, Arg(), args.Line) <= 0,
            "gt" or "greaterthan" or ">" => Order(value, Arg(), args.Line) > 0,
            "ge" or ">=" => Order(value, Arg(), args.Line) >= 0,
            "in" => Operators.Contains(Arg(), value, args.Line),
            "sameas" => value is null ? Arg() is null : value is bool b ? Arg() is bool c && b == c : ReferenceEquals(value, Arg()),
            "escaped" => false,
            _ => throw new BambaException($"chat template line {args.Line}: unknown test '{name}'"),
        };
    }

    private static int Order(object? a, object? b, int line) => Values.Compare(a, b)
        ?? throw new BambaException($"chat template line {line}: cannot compare '{Values.TypeName(a)}' with '{Values.TypeName(b)}'");
}

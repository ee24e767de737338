using System.CommandLine;

namespace Bamba.Cli;

/// <summary>
/// One option (<c>--name VALUE</c>, or a switch when <see cref="Value"/> is null) or the positional argument of a
/// command, as declared by the command itself. <see cref="Default"/> is the text help shows; the command applies the
/// default when reading the flag, so a default that depends on the model ("from generation_config.json") reads true.
/// </summary>
internal sealed record Flag(string Name, string Description, string? Value = "VALUE", string? Default = null)
{
    public bool IsSwitch => Value is null;

    /// <summary>A positional argument (its name is the help's placeholder, e.g. RUN_DIR).</summary>
    public bool IsArgument { get; private init; }

    /// <summary>An option that may be given several times (<c>--name A --name B</c>), one value each time.</summary>
    public bool IsRepeated { get; private init; }

    public static Flag Switch(string name, string description) => new(name, description, Value: null);

    public static Flag Repeated(string name, string description, string value) => new(name, description, value) { IsRepeated = true };

    public static Flag Argument(string name, string description) => new(name, description) { IsArgument = true };

    public string HelpDescription => Default is null ? Description : $"{Description} [default: {Default}]";

    /// <summary>
    /// The System.CommandLine symbol. Values stay strings: the command parses and range-checks them itself, so a bad
    /// value reads like every other user error (one line naming the flag and what it expects).
    /// </summary>
    public Symbol ToSymbol() => IsArgument
        ? new Argument<string>(Name) { Description = HelpDescription, Arity = ArgumentArity.ZeroOrOne }
        : IsSwitch
            ? new Option<bool>("--" + Name) { Description = HelpDescription, Arity = ArgumentArity.Zero }
            : IsRepeated
                ? new Option<string[]>("--" + Name) { Description = HelpDescription, HelpName = Value, Arity = ArgumentArity.OneOrMore }
                : new Option<string>("--" + Name) { Description = HelpDescription, HelpName = Value };
}

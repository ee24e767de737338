using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Bamba.Cli;

/// <summary>
/// The System.CommandLine tree built from the commands' own flag lists: help (with defaults and examples), the
/// version, response files (<c>@FILE</c>), and parse errors turned into one line with a suggestion and exit code 2.
/// </summary>
internal sealed class CliParser
{
    private readonly Dictionary<Command, (ICommand Command, Dictionary<string, Symbol> Symbols)> _commands = [];

    public CliParser(IReadOnlyList<ICommand> commands)
    {
        Root = new RootCommand("Bamba.NET: run, serve and train hybrid Mamba-2 / attention language models.");
        foreach (var command in commands)
        {
            var node = new Command(command.Name, command.Summary);
            var symbols = new Dictionary<string, Symbol>(StringComparer.Ordinal);
            foreach (var flag in command.Flags)
            {
                var symbol = flag.ToSymbol();
                symbols.Add(flag.Name, symbol);
                if (symbol is Option option) node.Add(option); else node.Add((Argument)symbol);
            }
            Root.Add(node);
            _commands.Add(node, (command, symbols));
        }
        var help = Root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExamples((HelpAction)help.Action!, this);
    }

    public RootCommand Root { get; }

    public IEnumerable<ICommand> Commands => _commands.Values.Select(c => c.Command);

    public int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args is ["help", .. var rest]) args = [.. rest, "--help"];
        var result = Root.Parse(args);
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr };
        if (result.Action is HelpWithExamples) return result.Invoke(invocation);
        if (result.GetResult(Root.Options.OfType<VersionOption>().Single()) is not null && result.Errors.Count == 0)
        {
            stdout.WriteLine(VersionInfo.Describe());
            return 0;
        }
        if (result.Errors.Count > 0 || result.CommandResult.Command == Root)
        {
            if (args.Length == 0)
            {
                Root.Parse(["--help"]).Invoke(invocation);
                return UserErrors.ExitCode;
            }
            stderr.WriteLine(ErrorLine(result));
            return UserErrors.ExitCode;
        }
        var (command, symbols) = _commands[result.CommandResult.Command];
        try
        {
            return command.Run(new CommandLine(result, symbols), stdout);
        }
        catch (Exception e) when (UserErrors.Describe(e) is { } message)
        {
            stderr.WriteLine($"bamba {command.Name}: {message}");
            return UserErrors.ExitCode;
        }
    }

    /// <summary>The flags of <paramref name="command"/> parsed from <paramref name="args"/>; a parse error throws.</summary>
    public CommandLine Parse(ICommand command, string[] args)
    {
        var result = Root.Parse([command.Name, .. args]);
        if (result.Errors.Count > 0) throw new BambaException(ErrorLine(result));
        var node = _commands.Single(c => c.Value.Command == command);
        return new CommandLine(result, node.Value.Symbols);
    }

    /// <summary>One line for a parse error, naming the command and, for a typo, the nearest name.</summary>
    private string ErrorLine(ParseResult result)
    {
        var node = result.CommandResult.Command;
        string prefix = node == Root ? "bamba" : $"bamba {node.Name}";
        string? token = result.UnmatchedTokens.FirstOrDefault();
        if (token is null)
            return $"{prefix}: {(node == Root ? "no command given (run 'bamba --help' for the list)" : result.Errors[0].Message)}";
        if (token.StartsWith('-'))
        {
            string? near = Suggestions.Nearest(token.Split('=')[0], node.Options.Where(o => !o.Hidden).Select(o => o.Name));
            return $"{prefix}: unknown flag {token}{(near is null ? "" : $" (did you mean {near}?)")}";
        }
        if (node == Root)
        {
            string? near = Suggestions.Nearest(token, Root.Subcommands.Select(c => c.Name));
            return $"bamba: unknown command '{token}'{(near is null ? "" : $" (did you mean '{near}'?)")} (run 'bamba --help' for the list)";
        }
        return $"{prefix}: unexpected argument '{token}' (flags start with --)";
    }

    /// <summary>System.CommandLine's help, then the command's "Examples:" section.</summary>
    private sealed class HelpWithExamples(HelpAction help, CliParser parser) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult result)
        {
            int code = help.Invoke(result);
            if (parser._commands.TryGetValue(result.CommandResult.Command, out var entry) && entry.Command.Examples.Count > 0)
            {
                var output = result.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var example in entry.Command.Examples) output.WriteLine("  " + example);
                output.WriteLine();
            }
            return code;
        }
    }
}

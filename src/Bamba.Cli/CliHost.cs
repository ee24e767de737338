using Bamba.Cli.Commands;

namespace Bamba.Cli;

/// <summary>Dispatches <c>bamba COMMAND ...</c>; maps user errors to one line on stderr and exit code 2.</summary>
internal static class CliHost
{
    public static ICommand[] Commands() =>
    [
        new GenerateCommand(),
        new ScoreCommand(),
        new InfoCommand(),
        new BenchCommand(),
        new ChatCommand(),
        new ServeCommand(),
        new TokenizeCommand(),
        new DetokenizeCommand(),
        new BenchTokenizeCommand(),
        new BenchGrammarCommand(),
        new BenchServeCommand(),
        new TrainCommand(),
        new TrainTokenizerCommand(),
    ];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var commands = Commands();
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.WriteLine("usage: bamba COMMAND [--flag value ...]\n\ncommands:");
            foreach (var c in commands) stdout.WriteLine($"  {c.Name,-12} {c.Summary}");
            return args.Length == 0 ? 2 : 0;
        }
        var command = commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"bamba: unknown command '{args[0]}' (run 'bamba --help' for the list)");
            return 2;
        }
        try
        {
            var line = new CommandLine(args[1..], command.Switches);
            return command.Run(line, stdout);
        }
        catch (BambaException e)
        {
            stderr.WriteLine($"bamba {command.Name}: {e.Message}");
            return 2;
        }
    }
}

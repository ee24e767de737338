using Bamba.Cli.Commands;

namespace Bamba.Cli;

/// <summary>The <c>bamba</c> commands and the entry point that parses, dispatches and maps user errors.</summary>
internal static class CliHost
{
    /// <summary>Every command, in the order <c>bamba --help</c> lists them. A new command is one line here.</summary>
    public static ICommand[] Commands() =>
    [
        new GenerateCommand(),
        new ChatCommand(),
        new ScoreCommand(),
        new EvalCommand(),
        new InfoCommand(),
        new ServeCommand(),
        new BenchCommand(),
        new BenchServeCommand(),
        new TrainCommand(),
        new MergeLoraCommand(),
        new TrainTokenizerCommand(),
        new PlotCommand(),
        new TokenizeCommand(),
        new DetokenizeCommand(),
        new BenchTokenizeCommand(),
        new BenchGrammarCommand(),
        new ConvertCommand(),
        new QuantizeCommand(),
        new CompletionsCommand(),
    ];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        new CliParser(Commands()).Run(args, stdout, stderr);

    /// <summary>One command's flags parsed as the host would (for tests that run a command object directly).</summary>
    public static CommandLine Parse(ICommand command, params string[] args) => new CliParser([command]).Parse(command, args);
}

namespace Bamba.Cli;

/// <summary>One <c>bamba</c> subcommand. <see cref="Run"/> returns the exit code; user errors throw <see cref="BambaException"/>.</summary>
internal interface ICommand
{
    string Name { get; }
    string Summary { get; }
    /// <summary>Flags that take no value.</summary>
    IReadOnlySet<string> Switches { get; }
    int Run(CommandLine args, TextWriter stdout);
}

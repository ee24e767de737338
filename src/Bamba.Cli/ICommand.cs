namespace Bamba.Cli;

/// <summary>
/// One <c>bamba</c> subcommand: its name, what it does, every flag it accepts (help, completions and the docs check
/// come from these), examples for its help, and <see cref="Run"/>, which returns the exit code. User errors throw
/// <see cref="BambaException"/>; the host turns them into one line and exit code 2.
/// </summary>
internal interface ICommand
{
    string Name { get; }
    string Summary { get; }
    IReadOnlyList<Flag> Flags { get; }
    IReadOnlyList<string> Examples { get; }
    int Run(CommandLine args, TextWriter stdout);
}

using Spectre.Console;

namespace Bamba.Cli.Output;

/// <summary>
/// Progress for long work, on stderr: a live Spectre.Console display when stderr is a terminal, plain lines when it
/// is redirected or <c>--no-progress</c> is given, so logs and CI stay clean.
/// </summary>
internal static class LiveOutput
{
    public static readonly Flag NoProgress = Flag.Switch("no-progress", "plain progress lines even on a terminal (always plain when stderr is redirected)");

    /// <summary>Whether to draw live progress: reads <c>--no-progress</c>.</summary>
    public static bool Enabled(CommandLine args) =>
        !args.Switch("no-progress") && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb");

    /// <summary>A Spectre console on stderr (stdout keeps the results).</summary>
    public static IAnsiConsole Stderr() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
        Ansi = AnsiSupport.Detect,
        Interactive = InteractionSupport.Yes,
    });

    /// <summary>
    /// Runs <paramref name="work"/>, showing the messages it reports: a spinner with the latest message under the
    /// earlier ones on a terminal, else <c>prefix: message</c> lines.
    /// </summary>
    public static T Status<T>(bool live, string prefix, Func<IProgress<string>, T> work)
    {
        if (!live) return work(new Reporter(m => { Console.Error.WriteLine($"{prefix}: {m}"); Console.Error.Flush(); }));
        var console = Stderr();
        return console.Status().Spinner(Spinner.Known.Dots).Start($"{prefix}: starting", context => work(new Reporter(m =>
        {
            console.MarkupLine($"[grey]{Markup.Escape(prefix)}:[/] {Markup.Escape(m)}");
            context.Status($"{Markup.Escape(prefix)}: {Markup.Escape(m)}");
        })));
    }

    /// <summary>Reports synchronously, in order (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class Reporter(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}

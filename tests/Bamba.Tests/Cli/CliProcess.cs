using System.Diagnostics;

namespace Bamba.Tests.Cli;

/// <summary>
/// Runs the built <c>bamba</c> program as its own process: with stdout and stderr redirected (as in a log or CI), or
/// under a pseudo-terminal made by <c>script</c> (util-linux, Debian's bsdutils), as a person at a terminal sees it.
/// </summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    private static string Program => Path.Combine(AppContext.BaseDirectory, "bamba");

    /// <param name="keepStdinOpen">Leave stdin open after <paramref name="stdin"/>, for a test that types as it reads.</param>
    /// <param name="defaultSigint">
    /// Start it with SIGINT's default action even when this process inherited it ignored (as jobs a shell puts in the
    /// background do), so that the program's own Ctrl-C handling can be tested.
    /// </param>
    public static Process Start(IEnumerable<string> args, bool terminal, string? stdin = null, bool defaultSigint = false, bool keepStdinOpen = false)
    {
        var info = terminal
            // "exec": script runs the command with $SHELL -c, and a dash (CI's /bin/sh) stays between script and the
            // program, where a Ctrl-C kills it and script reports 130 though the program handled the Ctrl-C.
            ? new ProcessStartInfo("script", ["-qefc", "exec " + string.Join(' ', new[] { Program }.Concat(args).Select(Quote)), "/dev/null"])
            : defaultSigint
                ? new ProcessStartInfo("env", ["--default-signal=INT", Program, .. args])
                : new ProcessStartInfo(Program, args);
        info.RedirectStandardOutput = info.RedirectStandardError = info.RedirectStandardInput = true;
        info.Environment["TERM"] = "xterm-256color";
        info.Environment["COLUMNS"] = "120";
        var process = Process.Start(info)!;
        if (stdin is not null) process.StandardInput.Write(stdin);
        if (keepStdinOpen) process.StandardInput.Flush(); else process.StandardInput.Close();
        return process;
    }

    /// <summary>Runs to the end (at most <paramref name="timeout"/>) and returns what it printed.</summary>
    public static Result Run(IEnumerable<string> args, bool terminal, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Start(args, terminal, stdin);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"bamba {string.Join(' ', args)} did not finish: {stdout.Result}{stderr.Result}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Runs in <paramref name="workingDirectory"/>, for what an in-process run cannot show: a working directory of its
    /// own, and the real exit code and stderr of an unhandled crash.
    /// </summary>
    public static CliRunner.Result RunIn(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Program, args) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bamba {string.Join(' ', args)} ran past two minutes");
        }
        return new CliRunner.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''") + "'";
}

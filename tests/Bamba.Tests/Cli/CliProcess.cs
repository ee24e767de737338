using System.Diagnostics;

namespace Bamba.Tests.Cli;

/// <summary>
/// Runs <c>bamba</c> as a child process (the built Bamba.Cli.dll under <c>dotnet</c>), for what an in-process run cannot
/// show: a working directory of its own, and the real exit code and stderr of an unhandled crash.
/// </summary>
public static class CliProcess
{
    public static CliRunner.Result Run(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(Bamba.Cli.CliHost).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
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
}

using Bamba.Cli;

namespace Bamba.Tests.Cli;

/// <summary>Runs the <c>bamba</c> command in-process and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliHost.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A user error: exit code 2 and exactly one line on stderr that contains <paramref name="text"/>.</summary>
    public static void AssertUserError(Result r, string text)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.Contains(text, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}

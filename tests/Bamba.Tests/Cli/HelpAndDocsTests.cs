using System.Text.RegularExpressions;
using Bamba.Cli;

namespace Bamba.Tests.Cli;

/// <summary>
/// The parser's own description against the docs: every command's --help lists every flag its documented usage
/// lists, and every flag the command accepts is documented, so the two cannot drift. Also --version, typos and
/// the completion script.
/// </summary>
public sealed partial class HelpAndDocsTests
{
    public static TheoryData<string> CommandNames() => [.. CliHost.Commands().Select(c => c.Name)];

    /// <summary>The flags in the docs' usage blocks (code blocks whose lines start "bamba NAME ") for one command.</summary>
    private static HashSet<string>? DocumentedFlags(string command)
    {
        HashSet<string>? flags = null;
        foreach (var file in Directory.GetFiles(Path.Combine(Fixtures.RepositoryRoot, "docs"), "*.md"))
            foreach (Match block in CodeBlock().Matches(File.ReadAllText(file)))
            {
                var text = block.Groups[1].Value;
                // A usage block may hold several commands; each starts a line with "bamba NAME".
                foreach (var usage in Regex.Split(text, @"(?m)^(?=bamba )"))
                    if (usage.StartsWith($"bamba {command} ", StringComparison.Ordinal))
                    {
                        flags ??= new HashSet<string>(StringComparer.Ordinal);
                        foreach (Match flag in FlagName().Matches(usage)) flags.Add(flag.Value);
                    }
            }
        return flags;
    }

    [Theory, MemberData(nameof(CommandNames))]
    public void HelpListsEveryDocumentedFlagAndTheDocsListEveryFlag(string name)
    {
        var help = CliRunner.Run(name, "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Examples:", help.Stdout);
        var documented = DocumentedFlags(name);
        Assert.True(documented is not null, $"no usage block 'bamba {name} ...' in docs/");
        var inHelp = FlagName().Matches(help.Stdout).Select(m => m.Value).ToHashSet();
        Assert.Empty(documented.Except(inHelp));
        var accepted = CliHost.Commands().Single(c => c.Name == name).Flags.Where(f => !f.IsArgument).Select(f => "--" + f.Name);
        Assert.Empty(accepted.Except(documented));
    }

    [Fact]
    public void TopLevelHelpListsEveryCommand()
    {
        foreach (var args in new[] { new[] { "--help" }, ["help"] })
        {
            var r = CliRunner.Run(args);
            Assert.Equal(0, r.ExitCode);
            foreach (var command in CliHost.Commands()) Assert.Contains(command.Name, r.Stdout);
        }
        Assert.Equal(2, CliRunner.Run().ExitCode);
    }

    [Fact]
    public void HelpCommandShowsOneCommandsHelp()
    {
        var r = CliRunner.Run("help", "train");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--batch-tokens", r.Stdout);
    }

    [Fact]
    public void VersionShowsVersionCommitRuntimeAndCuda()
    {
        var r = CliRunner.Run("--version");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^bamba \d+\.\d+\.\d+", r.Stdout);
        Assert.Matches(@"commit +[0-9a-f]{7,}", r.Stdout);
        Assert.Contains(".NET", r.Stdout);
        Assert.Matches(@"cuda +(available|not available)", r.Stdout);
    }

    [Theory]
    [InlineData(new[] { "genrate" }, "bamba: unknown command 'genrate' (did you mean 'generate'?)")]
    [InlineData(new[] { "generate", "--max-new-token", "3" }, "bamba generate: unknown flag --max-new-token (did you mean --max-new-tokens?)")]
    [InlineData(new[] { "serve", "--prot", "80" }, "bamba serve: unknown flag --prot (did you mean --port?)")]
    [InlineData(new[] { "train", "--resme" }, "bamba train: unknown flag --resme (did you mean --resume?)")]
    public void TyposGetOneLineWithASuggestionAndExitCode2(string[] args, string line)
    {
        var r = CliRunner.Run(args);
        CliRunner.AssertUserError(r, line);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void AFlagWithoutItsValueIsOneLine()
    {
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model"), "--model");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", "a", "--model", "b"), "--model");
    }

    [Fact]
    public void ResponseFilesHoldArguments()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "--prompt-ids 1,2\n--model /nonexistent/model\n");
            CliRunner.AssertUserError(CliRunner.Run("generate", "@" + file), "/nonexistent/model");
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void BashCompletionCompletesCommandsAndFlags()
    {
        var script = CliRunner.Run("completions", "bash");
        Assert.Equal(0, script.ExitCode);
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, script.Stdout);
            Assert.Equal("generate", Complete(file, "bamba gen").Trim());
            Assert.Equal(["--max-batch", "--max-context", "--max-queue", "--max-step-tokens"], Complete(file, "bamba serve --model m --max").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        }
        finally { File.Delete(file); }
    }

    /// <summary>What bash's completion function offers for the last word of <paramref name="line"/>, one per line.</summary>
    private static string Complete(string script, string line)
    {
        var words = line.Split(' ');
        var bash = new System.Diagnostics.ProcessStartInfo("bash", ["-c",
            $"source {script}; COMP_WORDS=({line}); COMP_CWORD={words.Length - 1}; _bamba; printf '%s\\n' \"${{COMPREPLY[@]}}\""])
        { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(bash)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }

    [Fact]
    public void UnknownShellIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("completions", "fish"), "unknown shell 'fish'");

    [GeneratedRegex(@"```\w*\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"--[a-z][a-z0-9-]*")]
    private static partial Regex FlagName();
}

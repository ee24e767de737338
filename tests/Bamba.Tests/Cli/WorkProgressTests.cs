using System.Text.RegularExpressions;

namespace Bamba.Tests.Cli;

/// <summary>
/// convert, quantize, bench-serve and bench-grammar report progress on stderr: a live display under a pseudo-terminal, plain lines
/// (no ANSI) when redirected or with --no-progress; stdout keeps only the result.
/// </summary>
public sealed partial class WorkProgressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-progress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Default => Path.Combine(Fixtures.RepositoryRoot, "models", "default");

    private string[] Convert(string name, params string[] more) => ["convert", "--model", Default, "--type", "q8_0", "--out", Path.Combine(_dir, name), .. more];

    [Fact]
    public void ConvertDrawsABarOnATerminalAndPlainLinesWhenRedirected()
    {
        var terminal = CliProcess.Run(Convert("a.gguf"), terminal: true);
        Assert.True(terminal.ExitCode == 0, terminal.Stdout);
        Assert.Contains("━", terminal.Stdout);          // the bar (script merges stderr into its output)
        Assert.Contains("100%", terminal.Stdout);
        Assert.Matches(FinalTensorsLine("convert"), terminal.Stdout);

        var redirected = CliProcess.Run(Convert("b.gguf"), terminal: false);
        Assert.True(redirected.ExitCode == 0, redirected.Stderr);
        Assert.Equal($"wrote {Path.Combine(_dir, "b.gguf")}\n", redirected.Stdout);
        Assert.DoesNotContain("\e", redirected.Stderr);
        Assert.Matches(FinalTensorsLine("convert"), redirected.Stderr);
        Assert.All(redirected.Stderr.TrimEnd('\n').Split('\n'), l => Assert.Matches(@"^convert: tensors \d+/\d+ \(\d+\.\d/s\)$", l));

        var plain = CliProcess.Run(Convert("c.gguf", "--no-progress"), terminal: true);
        Assert.True(plain.ExitCode == 0, plain.Stdout);
        Assert.DoesNotContain("━", plain.Stdout);
        Assert.Matches(FinalTensorsLine("convert"), plain.Stdout);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a.gguf")), File.ReadAllBytes(Path.Combine(_dir, "c.gguf")));
    }

    [Fact]
    public void StaticQuantizationReportsCalibrationThenTensors()
    {
        string text = Path.Combine(_dir, "calibration.txt");
        File.WriteAllText(text, "Q: What has keys but no locks? A: A piano.");
        string[] args = ["quantize", "--model", Default, "--fp8", "--scheme", "static", "--calibration", text];

        var redirected = CliProcess.Run([.. args, "--out", Path.Combine(_dir, "fp8-a")], terminal: false);
        Assert.True(redirected.ExitCode == 0, redirected.Stderr);
        Assert.DoesNotContain("\e", redirected.Stderr);
        int calibration = redirected.Stderr.IndexOf("quantize: calibration tokens ", StringComparison.Ordinal);
        var tensors = FinalTensorsLine("quantize").Match(redirected.Stderr);
        Assert.True(calibration >= 0 && tensors.Success && tensors.Index > calibration, redirected.Stderr);

        var terminal = CliProcess.Run([.. args, "--out", Path.Combine(_dir, "fp8-b")], terminal: true);
        Assert.True(terminal.ExitCode == 0, terminal.Stdout);
        Assert.Contains("━", terminal.Stdout);
        Assert.Matches(FinalTensorsLine("quantize"), terminal.Stdout);
    }

    [Fact]
    public void BenchServeShowsALiveStatusOnlyOnATerminal()
    {
        string[] args = ["bench-serve", "--model", Fixtures.Model("tiny-bamba"), "--requests", "2", "--concurrency", "1,2", "--prompt-tokens", "8", "--max-tokens", "2"];
        var terminal = CliProcess.Run(args, terminal: true);
        Assert.True(terminal.ExitCode == 0, terminal.Stdout);
        Assert.Contains("\e[", terminal.Stdout);
        Assert.Contains("2 requests at concurrency 2", terminal.Stdout); // the message, after the grey "bench-serve:"

        var redirected = CliProcess.Run(args, terminal: false);
        Assert.True(redirected.ExitCode == 0, redirected.Stderr);
        Assert.DoesNotContain("\e", redirected.Stderr + redirected.Stdout);
        Assert.Contains("bench-serve: 2 requests at concurrency 1\n", redirected.Stderr);
        Assert.Contains("bench-serve: 2 requests at concurrency 2\n", redirected.Stderr);
    }

    [Fact]
    public void BenchGrammarReportsItsPassesInOrderAndLiveOnlyOnATerminal()
    {
        string[] args = ["bench-grammar", "--model", Default, "--tokenizer", Default, "--batch", "2", "--steps", "2", "--format", "json"];
        var redirected = CliProcess.Run(args, terminal: false);
        Assert.True(redirected.ExitCode == 0, redirected.Stderr);
        Assert.Equal("bench-grammar: first pass (masks computed as states appear)\nbench-grammar: second pass (masks cached)\n", redirected.Stderr);
        Assert.StartsWith("{", redirected.Stdout);

        var terminal = CliProcess.Run(args, terminal: true);
        Assert.True(terminal.ExitCode == 0, terminal.Stdout);
        Assert.Contains("\e[", terminal.Stdout);
        Assert.Contains("second pass (masks cached)", terminal.Stdout);
    }

    /// <summary>The last line of a stage: every tensor done (the count equal on both sides of the slash).</summary>
    private static Regex FinalTensorsLine(string prefix) => new($@"{prefix}: tensors (\d+)/\1 \(");
}

using Bamba.Cli.Output;

namespace Bamba.Tests.Cli;

/// <summary>The plain progress lines: one at a stage's start, none within half a second of the last, always its end.</summary>
public sealed class CountedProgressTests
{
    [Fact]
    public void LinesAreThrottledPerStageButEachStagesLastAlwaysShows()
    {
        var output = new StringWriter();
        var report = CountedProgress.PlainLines("quantize", output);
        report("calibration tokens", 512, 1024);
        report("calibration tokens", 1024, 1024);
        report("tensors", 1, 1000);
        for (int i = 2; i < 1000; i++) report("tensors", i, 1000); // well within half a second
        report("tensors", 1000, 1000);

        var lines = output.ToString().TrimEnd('\n').Split('\n').Select(l => l[..l.IndexOf(" (", StringComparison.Ordinal)]);
        Assert.Equal(["quantize: calibration tokens 512/1024", "quantize: calibration tokens 1024/1024", "quantize: tensors 1/1000", "quantize: tensors 1000/1000"], lines);
    }

    [Fact]
    public void TheRateIsItemsPerSecondOfTheStage() =>
        Assert.Equal("convert: tensors 30/76 (12.0/s)", CountedProgress.Line("convert", "tensors", 30, 76, 2.5));
}

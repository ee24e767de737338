using Bamba.Backends;
using Bamba.Cli;

namespace Bamba.Tests.Cli;

/// <summary>The lines a GPU load prints while its weights go up: the bytes so far, the total and the rate, throttled, and always the last.</summary>
public class ModelLoadProgressTests
{
    private sealed class Lines : IProgress<string>
    {
        public List<string> All { get; } = [];
        public void Report(string value) => All.Add(value);
    }

    [Fact]
    public void ALineSaysTheBytesTheTotalAndTheRate() =>
        Assert.Equal("weights to the GPU: 4.50 of 19.60 GB, 1.50 GB/s", ModelOptions.UploadReport.Line(new ModelLoadProgress(4_500_000_000, 19_600_000_000), 3));

    [Fact]
    public void ReportsAreThrottledButTheLastAlwaysShows()
    {
        var lines = new Lines();
        var report = new ModelOptions.UploadReport(lines);
        report.Report(new ModelLoadProgress(1, 10));
        report.Report(new ModelLoadProgress(2, 10)); // within two seconds of the first: dropped
        report.Report(new ModelLoadProgress(10, 10));
        Assert.Equal(2, lines.All.Count);
        Assert.StartsWith("weights to the GPU: 0.00 of 0.00 GB", lines.All[^1]);
    }
}

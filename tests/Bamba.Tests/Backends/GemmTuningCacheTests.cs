using Bamba.Backends.Cuda;

namespace Bamba.Tests.Backends;

/// <summary>The GEMM tuning choices a process records are the ones the next process reads (the host side of reproducible GPU runs).</summary>
public class GemmTuningCacheTests
{
    private static readonly GemmShape Shape = new(true, false, 4096, 1, 4096, 4096, 4096, 4096, CudaPrecision.BFloat16, false);

    [Fact]
    public void AChoiceRecordedByOneProcessIsReadByTheNext()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bamba-gemm-{Guid.NewGuid():N}", "gemm-tuning.json");
        string key = GemmTuningCache.Key("NVIDIA H200", 130000, Shape);
        new GemmTuningCache(path).Record(key, 3);
        var next = new GemmTuningCache(path);
        Assert.Equal(3, next.Choice(key));
        Assert.Null(next.Choice(GemmTuningCache.Key("NVIDIA H100 80GB HBM3", 130000, Shape))); // another device times afresh
        Assert.Null(next.Choice(GemmTuningCache.Key("NVIDIA H200", 130001, Shape)));           // so does another library
        Assert.Null(next.Choice(GemmTuningCache.Key("NVIDIA H200", 130000, Shape with { N = 2 })));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void AnUnreadableFileIsSetAsideNotTrusted()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"bamba-gemm-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "gemm-tuning.json");
        File.WriteAllText(path, "{\"half a"); // a kill mid-write of an older version, or a hand edit
        var cache = new GemmTuningCache(path);
        Assert.Null(cache.Choice(GemmTuningCache.Key("NVIDIA H200", 130000, Shape)));
        Assert.True(File.Exists(path + ".unreadable"));
        cache.Record(GemmTuningCache.Key("NVIDIA H200", 130000, Shape), 1);
        Assert.Equal(1, new GemmTuningCache(path).Choice(GemmTuningCache.Key("NVIDIA H200", 130000, Shape)));
    }

    /// <summary>A key the user's file lacks comes from the shipped table; one the file holds (timed here) wins.</summary>
    [Fact]
    public void TheShippedTableAnswersWhatTheFileDoesNotHold()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bamba-gemm-{Guid.NewGuid():N}", "gemm-tuning.json");
        string shippedKey = GemmTuningCache.Key("NVIDIA H200", 130000, Shape), timedKey = GemmTuningCache.Key("NVIDIA H200", 130000, Shape with { N = 2 });
        var shipped = new Dictionary<string, int> { [shippedKey] = 4, [timedKey] = 5 };
        new GemmTuningCache(path, shipped).Record(timedKey, 1);
        var cache = new GemmTuningCache(path, shipped);
        Assert.Equal(4, cache.Choice(shippedKey));
        Assert.Equal(1, cache.Choice(timedKey));
        Assert.Null(cache.Choice(GemmTuningCache.Key("NVIDIA H100 80GB HBM3", 130000, Shape)));
    }

    /// <summary>The embedded table reads, and every entry is keyed as <see cref="GemmTuningCache.Key"/> writes keys.</summary>
    [Fact]
    public void TheShippedTableIsEmbeddedAndWellFormed()
    {
        Assert.NotEmpty(GemmTuningCache.Shipped);
        Assert.All(GemmTuningCache.Shipped, e =>
        {
            Assert.Matches(@"^.+ \| cuBLASLt \d+ \| GemmShape \{ .+ \}$", e.Key);
            Assert.InRange(e.Value, 0, 7);
        });
    }

    [Fact]
    public void OffKeepsChoicesInTheProcessOnly()
    {
        var cache = new GemmTuningCache(null);
        cache.Record("k", 2);
        Assert.Equal(2, cache.Choice("k"));
    }
}

using Bamba.Backends.Cpu;

namespace Bamba.Tests.Backends;

/// <summary>The persistent decode workers: every chunk once, concurrent and nested callers, errors surfaced.</summary>
public class CpuWorkersTests
{
    private sealed class Counting(int chunks, Action<int>? inside = null) : ChunkedWork(chunks)
    {
        public readonly int[] Runs = new int[chunks];

        protected override void RunChunk(int chunk)
        {
            Interlocked.Increment(ref Runs[chunk]);
            inside?.Invoke(chunk);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    public void EveryChunkRunsExactlyOnce(int chunks)
    {
        for (int call = 0; call < 50; call++)
        {
            var work = new Counting(chunks);
            CpuWorkers.Run(work);
            Assert.All(work.Runs, runs => Assert.Equal(1, runs));
        }
    }

    [Fact]
    public void ConcurrentAndNestedCallersAllComplete()
    {
        var inner = new List<Counting>();
        Parallel.For(0, 8, _ =>
        {
            var outer = new Counting(64, chunk =>
            {
                if (chunk % 16 != 0) return;
                var nested = new Counting(10);
                CpuWorkers.Run(nested);
                lock (inner) inner.Add(nested);
            });
            CpuWorkers.Run(outer);
            Assert.All(outer.Runs, runs => Assert.Equal(1, runs));
        });
        Assert.Equal(8 * 4, inner.Count);
        Assert.All(inner, w => Assert.All(w.Runs, runs => Assert.Equal(1, runs)));
    }

    [Fact]
    public void AChunkThatThrowsFailsTheCallAndTheWorkersCarryOn()
    {
        var failing = new Counting(100, chunk => { if (chunk == 37) throw new InvalidOperationException("chunk 37"); });
        var error = Assert.Throws<AggregateException>(() => CpuWorkers.Run(failing));
        Assert.Equal("chunk 37", error.InnerException!.Message);
        Assert.All(failing.Runs, runs => Assert.Equal(1, runs));

        var next = new Counting(100);
        CpuWorkers.Run(next);
        Assert.All(next.Runs, runs => Assert.Equal(1, runs));
    }
}

using System.Diagnostics;

namespace Bamba.Benchmarks;

/// <summary>
/// The machine's memory-copy rate, measured in the same run as the model: the physical limit a weight-streaming
/// decode is compared with. Bytes copied per second (each byte read once and written once), best of several passes
/// over buffers far larger than the caches, one slice per core.
/// </summary>
public static class MemoryBandwidth
{
    public static double CopyGBps(long bytes = 512L << 20, int passes = 5)
    {
        var source = new byte[bytes];
        var destination = new byte[bytes];
        // Every source page written: an untouched page reads as the kernel's one shared zero page, from cache.
        source.AsSpan().Fill(0x5A);
        int slices = Environment.ProcessorCount;
        long slice = bytes / slices;
        double best = double.MaxValue;
        for (int pass = 0; pass <= passes; pass++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, slices, i =>
            {
                long start = i * slice;
                for (long at = start; at < start + slice; at += 1 << 30)
                {
                    int length = (int)Math.Min(1 << 30, start + slice - at);
                    source.AsSpan((int)at, length).CopyTo(destination.AsSpan((int)at, length));
                }
            });
            if (pass > 0) best = Math.Min(best, sw.Elapsed.TotalSeconds); // pass 0 faults the pages in
        }
        return slices * slice / best / 1e9;
    }

    /// <summary>
    /// The read-only stream rate: bytes summed per second over a buffer far larger than the caches, one slice per core.
    /// A weight-streaming decode only reads, so this is its tightest physical limit.
    /// </summary>
    public static double ReadGBps(long bytes = 1L << 30, int passes = 5)
    {
        var data = new float[bytes / sizeof(float)];
        Array.Fill(data, 1f); // commit the pages before timing
        int slices = Environment.ProcessorCount;
        int slice = data.Length / slices;
        var sums = new float[slices];
        double best = double.MaxValue;
        for (int pass = 0; pass < passes; pass++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, slices, i => sums[i] = System.Numerics.Tensors.TensorPrimitives.Sum(data.AsSpan(i * slice, slice)));
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return (double)slices * slice * sizeof(float) / best / 1e9;
    }
}

namespace Bamba.Backends.Cpu;

/// <summary>Work split into chunks that any thread may run, in any order (see <see cref="CpuWorkers"/>).</summary>
internal abstract class ChunkedWork
{
    private int _next;
    private int _completed;
    private Exception? _error;

    protected ChunkedWork(int chunks) => Chunks = chunks;

    public int Chunks { get; }
    internal bool IsComplete => Volatile.Read(ref _completed) == Chunks;

    protected abstract void RunChunk(int chunk);

    /// <summary>Claims and runs chunks until none is left; safe to call from several threads at once.</summary>
    internal void RunChunks()
    {
        for (int chunk = Interlocked.Increment(ref _next) - 1; chunk < Chunks; chunk = Interlocked.Increment(ref _next) - 1)
        {
            try { RunChunk(chunk); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            Interlocked.Increment(ref _completed);
        }
    }

    internal void ThrowIfFailed()
    {
        if (_error is not null) throw new AggregateException(_error);
    }
}

/// <summary>
/// Persistent threads (one per core besides the caller's) for decode's parallel loops (matrix products, the SSM step,
/// attention heads). A decode step runs ~130 matrix products of a few hundred microseconds each; with
/// <c>Parallel.For</c> per product, waking pool threads (sched_yield) and faulting in the per-task buffers showed as
/// ~10 % of a decode profile. Here the caller publishes the work and takes chunks itself; workers spin briefly between
/// calls (the next product follows within microseconds) and then sleep. A product of 8 rows costs under 1 µs in all.
/// Chunks are claimed dynamically so that a core taken by another process delays the step by at most one chunk.
/// </summary>
internal static class CpuWorkers
{
    /// <summary>How long a worker polls for the next call before sleeping: longer than the gaps inside a decode step.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs

    private static readonly SemaphoreSlim Wake = new(0);
    private static ChunkedWork? _current;
    private static int _sleeping;
    private static int _busy;

    static CpuWorkers()
    {
        for (int i = 1; i < Environment.ProcessorCount; i++)
            new Thread(WorkerLoop) { IsBackground = true, Name = $"bamba-decode-{i}" }.Start();
    }

    /// <summary>Runs every chunk of <paramref name="work"/> on the caller and the workers; returns when all are done.</summary>
    public static void Run(ChunkedWork work)
    {
        // A nested or concurrent call (another thread already owns the workers) runs on its own thread.
        if (Environment.ProcessorCount == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            work.RunChunks();
            work.ThrowIfFailed();
            return;
        }
        try
        {
            Volatile.Write(ref _current, work);
            int sleeping = Interlocked.Exchange(ref _sleeping, 0);
            if (sleeping > 0) Wake.Release(sleeping);
            work.RunChunks();
            var spin = new SpinWait();
            while (!work.IsComplete) spin.SpinOnce(sleep1Threshold: -1);
        }
        finally
        {
            Volatile.Write(ref _current, null);
            Volatile.Write(ref _busy, 0);
        }
        work.ThrowIfFailed();
    }

    private static void WorkerLoop()
    {
        ChunkedWork? last = null;
        while (true)
        {
            var work = WaitForWork(last);
            work.RunChunks();
            last = work;
        }
    }

    /// <summary>Polls for work other than <paramref name="last"/>, then sleeps until <see cref="Run"/> wakes it.</summary>
    private static ChunkedWork WaitForWork(ChunkedWork? last)
    {
        while (true)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            while (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            {
                var work = Volatile.Read(ref _current);
                if (work is not null && work != last) return work;
                Thread.SpinWait(20);
            }
            Interlocked.Increment(ref _sleeping);
            var posted = Volatile.Read(ref _current); // published before the increment: Run may not have seen us sleeping
            if (posted is not null && posted != last) return posted; // a spare wake-up later is harmless
            Wake.Wait();
        }
    }
}

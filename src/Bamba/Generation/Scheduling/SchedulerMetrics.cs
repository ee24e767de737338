namespace Bamba.Generation.Scheduling;

/// <summary>
/// What a scheduler is doing now and has done: gauges (queue, running sequences, memory held), counters and latency
/// histograms. Written by the scheduler thread, read by anyone (e.g. a /metrics endpoint).
/// </summary>
public sealed class SchedulerMetrics
{
    private readonly Queue<(long Ticks, int Tokens)> _recent = new();
    private readonly Lock _lock = new();
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private int _queueLength, _running, _kvBlocksUsed, _prefixPoints, _prefixPinned;
    private long _prefixHit, _prefixMiss, _prefixBytes, _prefixPeakBytes, _prefixEvictions;
    private long _stateBytes, _requests, _rejected, _cancelled, _promptTokens, _generatedTokens, _steps;

    public int QueueLength => Volatile.Read(ref _queueLength);
    public int RunningSequences => Volatile.Read(ref _running);
    public int KvBlocksUsed => Volatile.Read(ref _kvBlocksUsed);
    public int KvBlocksTotal { get; internal set; }
    /// <summary>Blocks of that budget each running sequence's recurrent state takes (<see cref="SchedulerOptions.StateBlocks"/>).</summary>
    public int StateBlocksPerSequence { get; internal set; }
    public int Slots { get; internal set; }
    /// <summary>Bytes held by the sequence states of running sequences.</summary>
    public long StateBytes => Interlocked.Read(ref _stateBytes);
    public long RequestsTotal => Interlocked.Read(ref _requests);
    public long RequestsRejected => Interlocked.Read(ref _rejected);
    public long RequestsCancelled => Interlocked.Read(ref _cancelled);
    public long PromptTokensTotal => Interlocked.Read(ref _promptTokens);
    public long GeneratedTokensTotal => Interlocked.Read(ref _generatedTokens);
    public long StepsTotal => Interlocked.Read(ref _steps);

    /// <summary>The prefix cache's byte budget (0: no prefix cache).</summary>
    public long PrefixCacheBudget { get; internal set; }
    /// <summary>Prompt tokens that admitted sequences took from the prefix cache instead of computing them.</summary>
    public long PrefixHitTokens => Interlocked.Read(ref _prefixHit);
    /// <summary>Prompt tokens that admitted sequences had to compute.</summary>
    public long PrefixMissTokens => Interlocked.Read(ref _prefixMiss);
    /// <summary>Bytes of state snapshots and KV rows the prefix cache holds now, and the most it ever held.</summary>
    public long PrefixCacheBytes => Interlocked.Read(ref _prefixBytes);
    public long PrefixCachePeakBytes => Interlocked.Read(ref _prefixPeakBytes);
    /// <summary>Points in the prefix cache, and how many of them running sequences hold.</summary>
    public int PrefixCachePoints => Volatile.Read(ref _prefixPoints);
    public int PrefixCachePinned => Volatile.Read(ref _prefixPinned);
    /// <summary>Points evicted whole or of their recurrent state.</summary>
    public long PrefixEvictions => Interlocked.Read(ref _prefixEvictions);

    public LatencyHistogram TimeToFirstToken { get; } = new(LatencyHistogram.DefaultBounds);
    public LatencyHistogram InterTokenLatency { get; } = new(LatencyHistogram.DefaultBounds);
    public LatencyHistogram StepDuration { get; } = new(LatencyHistogram.DefaultBounds);

    /// <summary>Generated tokens per second over the last 10 seconds.</summary>
    public double TokensPerSecond
    {
        get
        {
            lock (_lock)
            {
                Trim(DateTime.UtcNow.Ticks);
                return _recent.Sum(r => (double)r.Tokens) / Window.TotalSeconds;
            }
        }
    }

    internal void SetQueueLength(int queued) => Volatile.Write(ref _queueLength, queued);

    internal void SetRunning(int running, int kvBlocks, long stateBytes)
    {
        Volatile.Write(ref _running, running);
        Volatile.Write(ref _kvBlocksUsed, kvBlocks);
        Interlocked.Exchange(ref _stateBytes, stateBytes);
    }

    internal void Accepted() => Interlocked.Increment(ref _requests);
    internal void Rejected() => Interlocked.Increment(ref _rejected);
    internal void Cancelled() => Interlocked.Increment(ref _cancelled);
    internal void PromptTokens(int n) => Interlocked.Add(ref _promptTokens, n);

    internal void PrefixTokens(int hit, int miss)
    {
        Interlocked.Add(ref _prefixHit, hit);
        Interlocked.Add(ref _prefixMiss, miss);
    }

    internal void PrefixEvicted() => Interlocked.Increment(ref _prefixEvictions);

    internal void SetPrefixCache(long bytes, int points, int pinned)
    {
        Interlocked.Exchange(ref _prefixBytes, bytes);
        if (bytes > PrefixCachePeakBytes) Interlocked.Exchange(ref _prefixPeakBytes, bytes); // one writer: the scheduler thread
        Volatile.Write(ref _prefixPoints, points);
        Volatile.Write(ref _prefixPinned, pinned);
    }

    internal void Step(TimeSpan duration, int generated)
    {
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _generatedTokens, generated);
        StepDuration.Observe(duration.TotalSeconds);
        long now = DateTime.UtcNow.Ticks;
        lock (_lock)
        {
            _recent.Enqueue((now, generated));
            Trim(now);
        }
    }

    private void Trim(long now)
    {
        while (_recent.Count > 0 && now - _recent.Peek().Ticks > Window.Ticks) _recent.Dequeue();
    }
}

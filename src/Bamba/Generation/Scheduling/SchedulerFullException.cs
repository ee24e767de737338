namespace Bamba.Generation.Scheduling;

/// <summary>The scheduler's queue is full: the caller should retry after <see cref="RetryAfter"/> (HTTP 429).</summary>
public sealed class SchedulerFullException(int queued, TimeSpan retryAfter)
    : Exception($"the server is busy: {queued} requests are already waiting; retry after {retryAfter.TotalSeconds:0} s")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

namespace Bamba.Generation.Scheduling;

/// <summary>A cumulative histogram of durations in seconds with fixed buckets, as Prometheus exposes them.</summary>
public sealed class LatencyHistogram(params double[] upperBounds)
{
    private readonly long[] _counts = new long[upperBounds.Length];
    private readonly Lock _lock = new();
    private long _count;
    private double _sum;

    public static double[] DefaultBounds => [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    public IReadOnlyList<double> UpperBounds { get; } = upperBounds;

    /// <summary>Each observation as it is made (e.g. to record it into a <c>System.Diagnostics.Metrics</c> histogram).</summary>
    public event Action<double>? Observed;

    public void Observe(double seconds)
    {
        lock (_lock)
        {
            for (int i = 0; i < _counts.Length; i++)
                if (seconds <= upperBounds[i]) _counts[i]++;
            _count++;
            _sum += seconds;
        }
        Observed?.Invoke(seconds);
    }

    /// <summary>Cumulative counts per bucket (≤ bound), the total count (the +Inf bucket) and the sum.</summary>
    public (long[] Cumulative, long Count, double Sum) Snapshot()
    {
        lock (_lock) return ((long[])_counts.Clone(), _count, _sum);
    }
}

using System.Diagnostics.Metrics;
using Bamba.Generation.Scheduling;

namespace Bamba.Server;

/// <summary>
/// The scheduler's gauges, counters and latency histograms as <c>System.Diagnostics.Metrics</c> instruments of the
/// meter <see cref="Name"/>, each measurement labelled with the served model; OpenTelemetry's Prometheus exporter
/// serves them at /metrics. The names are those of the earlier hand-written exposition (the exporter adds nothing to a
/// name that already ends in its unit or in <c>_total</c>).
/// </summary>
internal sealed class ServerMeter : IDisposable
{
    public const string Name = "Bamba.Server";

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?>[] _labels;
    private readonly List<(LatencyHistogram Source, Action<double> Record)> _histograms = [];

    public ServerMeter(SchedulerMetrics m, string model)
    {
        _labels = [new("model", model)];
        // Scoped to this object: OpenTelemetry listens to meters by name, so each server's provider keeps only its own
        // (several servers in one process, as in the tests, must not see each other's counts).
        var meter = _meter = new Meter(new MeterOptions(Name) { Scope = this });
        Gauge(meter, "bamba_queue_length", "Requests waiting for a sequence slot.", () => m.QueueLength);
        Gauge(meter, "bamba_running_sequences", "Sequences in the running batch.", () => m.RunningSequences);
        Gauge(meter, "bamba_sequence_slots", "Sequence state slots (--max-batch, or sized from GPU memory).", () => m.Slots);
        Gauge(meter, "bamba_kv_blocks_used", "KV-cache blocks reserved by running sequences (with their recurrent state's, when sized from GPU memory).", () => m.KvBlocksUsed);
        Gauge(meter, "bamba_kv_blocks_total", "KV-cache blocks in the budget.", () => m.KvBlocksTotal);
        Gauge(meter, "bamba_state_blocks_per_sequence", "Blocks of the budget each running sequence's recurrent state takes (0: KV only).", () => m.StateBlocksPerSequence);
        Gauge(meter, "bamba_sequence_state_bytes", "Bytes held by running sequences' states (Mamba state and KV).", () => m.StateBytes);
        Gauge(meter, "bamba_tokens_per_second", "Generated tokens per second over the last 10 s.", () => m.TokensPerSecond);
        Counter(meter, "bamba_requests_total", "Sequences accepted into the queue.", () => m.RequestsTotal);
        Counter(meter, "bamba_requests_rejected_total", "Sequences refused because the queue was full (429).", () => m.RequestsRejected);
        Counter(meter, "bamba_requests_cancelled_total", "Sequences cancelled before their end (client gone, stop string).", () => m.RequestsCancelled);
        Counter(meter, "bamba_prompt_tokens_total", "Prompt tokens admitted.", () => m.PromptTokensTotal);
        Counter(meter, "bamba_generation_tokens_total", "Tokens generated.", () => m.GeneratedTokensTotal);
        Counter(meter, "bamba_steps_total", "Model steps run by the scheduler.", () => m.StepsTotal);
        Counter(meter, "bamba_prefix_cache_hit_tokens_total", "Admitted prompt tokens taken from the prefix cache.", () => m.PrefixHitTokens);
        Counter(meter, "bamba_prefix_cache_miss_tokens_total", "Admitted prompt tokens computed (not in the prefix cache).", () => m.PrefixMissTokens);
        Gauge(meter, "bamba_prefix_cache_bytes", "Bytes of state snapshots and KV rows the prefix cache holds.", () => m.PrefixCacheBytes);
        Gauge(meter, "bamba_prefix_cache_budget_bytes", "The prefix cache's budget (0: off).", () => m.PrefixCacheBudget);
        Gauge(meter, "bamba_prefix_cache_points", "Points (state snapshots) in the prefix cache.", () => m.PrefixCachePoints);
        Gauge(meter, "bamba_prefix_cache_pinned_points", "Prefix cache points running sequences are extending.", () => m.PrefixCachePinned);
        Counter(meter, "bamba_prefix_cache_evictions_total", "Prefix cache points evicted whole or of their recurrent state.", () => m.PrefixEvictions);
        Histogram(meter, "bamba_time_to_first_token_seconds", "From submission to the first generated token.", m.TimeToFirstToken);
        Histogram(meter, "bamba_inter_token_latency_seconds", "Between consecutive tokens of a sequence.", m.InterTokenLatency);
        Histogram(meter, "bamba_step_duration_seconds", "One scheduler step (one batched model call).", m.StepDuration);
    }

    private void Gauge(Meter meter, string name, string help, Func<double> value) =>
        meter.CreateObservableGauge(name, () => new Measurement<double>(value(), _labels), description: help);

    private void Counter(Meter meter, string name, string help, Func<long> value) =>
        meter.CreateObservableCounter(name, () => new Measurement<long>(value(), _labels), description: help);

    /// <summary>Records every observation the scheduler makes from now on, in the scheduler's own buckets.</summary>
    private void Histogram(Meter meter, string name, string help, LatencyHistogram source)
    {
        var histogram = meter.CreateHistogram(name, "s", help, tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. source.UpperBounds] });
        Action<double> record = seconds => histogram.Record(seconds, _labels);
        source.Observed += record;
        _histograms.Add((source, record));
    }

    /// <summary>Whether <paramref name="instrument"/> is another server's (in the same process), to be left out.</summary>
    public bool IsForeign(Instrument instrument) => instrument.Meter.Name == Name && !ReferenceEquals(instrument.Meter.Scope, this);

    public void Dispose()
    {
        foreach (var (source, record) in _histograms) source.Observed -= record;
        _meter.Dispose();
    }
}

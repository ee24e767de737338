using System.Globalization;
using System.Text;
using Bamba.Generation.Scheduling;

namespace Bamba.Server.Endpoints;

/// <summary>GET /metrics: the scheduler's gauges, counters and latency histograms in the Prometheus text format (0.0.4).</summary>
internal static class PrometheusMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(SchedulerMetrics m, string model)
    {
        var text = new StringBuilder();
        string labels = $"model=\"{Escape(model)}\"";
        Metric(text, "bamba_queue_length", "gauge", "Requests waiting for a sequence slot.", labels, m.QueueLength);
        Metric(text, "bamba_running_sequences", "gauge", "Sequences in the running batch.", labels, m.RunningSequences);
        Metric(text, "bamba_sequence_slots", "gauge", "Sequence state slots (--max-batch, or sized from GPU memory).", labels, m.Slots);
        Metric(text, "bamba_kv_blocks_used", "gauge", "KV-cache blocks reserved by running sequences (with their recurrent state's, when sized from GPU memory).", labels, m.KvBlocksUsed);
        Metric(text, "bamba_kv_blocks_total", "gauge", "KV-cache blocks in the budget.", labels, m.KvBlocksTotal);
        Metric(text, "bamba_state_blocks_per_sequence", "gauge", "Blocks of the budget each running sequence's recurrent state takes (0: KV only).", labels, m.StateBlocksPerSequence);
        Metric(text, "bamba_sequence_state_bytes", "gauge", "Bytes held by running sequences' states (Mamba state and KV).", labels, m.StateBytes);
        Metric(text, "bamba_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", labels, m.TokensPerSecond);
        Metric(text, "bamba_requests_total", "counter", "Sequences accepted into the queue.", labels, m.RequestsTotal);
        Metric(text, "bamba_requests_rejected_total", "counter", "Sequences refused because the queue was full (429).", labels, m.RequestsRejected);
        Metric(text, "bamba_requests_cancelled_total", "counter", "Sequences cancelled before their end (client gone, stop string).", labels, m.RequestsCancelled);
        Metric(text, "bamba_prompt_tokens_total", "counter", "Prompt tokens admitted.", labels, m.PromptTokensTotal);
        Metric(text, "bamba_generation_tokens_total", "counter", "Tokens generated.", labels, m.GeneratedTokensTotal);
        Metric(text, "bamba_steps_total", "counter", "Model steps run by the scheduler.", labels, m.StepsTotal);
        Metric(text, "bamba_prefix_cache_hit_tokens_total", "counter", "Admitted prompt tokens taken from the prefix cache.", labels, m.PrefixHitTokens);
        Metric(text, "bamba_prefix_cache_miss_tokens_total", "counter", "Admitted prompt tokens computed (not in the prefix cache).", labels, m.PrefixMissTokens);
        Metric(text, "bamba_prefix_cache_bytes", "gauge", "Bytes of state snapshots and KV rows the prefix cache holds.", labels, m.PrefixCacheBytes);
        Metric(text, "bamba_prefix_cache_budget_bytes", "gauge", "The prefix cache's budget (0: off).", labels, m.PrefixCacheBudget);
        Metric(text, "bamba_prefix_cache_points", "gauge", "Points (state snapshots) in the prefix cache.", labels, m.PrefixCachePoints);
        Metric(text, "bamba_prefix_cache_pinned_points", "gauge", "Prefix cache points running sequences are extending.", labels, m.PrefixCachePinned);
        Metric(text, "bamba_prefix_cache_evictions_total", "counter", "Prefix cache points evicted whole or of their recurrent state.", labels, m.PrefixEvictions);
        Histogram(text, "bamba_time_to_first_token_seconds", "From submission to the first generated token.", labels, m.TimeToFirstToken);
        Histogram(text, "bamba_inter_token_latency_seconds", "Between consecutive tokens of a sequence.", labels, m.InterTokenLatency);
        Histogram(text, "bamba_step_duration_seconds", "One scheduler step (one batched model call).", labels, m.StepDuration);
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, string labels, double value)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        text.Append(name).Append('{').Append(labels).Append("} ").Append(Number(value)).Append('\n');
    }

    private static void Histogram(StringBuilder text, string name, string help, string labels, LatencyHistogram h)
    {
        var (cumulative, count, sum) = h.Snapshot();
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        for (int i = 0; i < cumulative.Length; i++)
            text.Append(name).Append("_bucket{").Append(labels).Append(",le=\"").Append(Number(h.UpperBounds[i])).Append("\"} ").Append(cumulative[i]).Append('\n');
        text.Append(name).Append("_bucket{").Append(labels).Append(",le=\"+Inf\"} ").Append(count).Append('\n');
        text.Append(name).Append("_sum{").Append(labels).Append("} ").Append(Number(sum)).Append('\n');
        text.Append(name).Append("_count{").Append(labels).Append("} ").Append(count).Append('\n');
    }

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}

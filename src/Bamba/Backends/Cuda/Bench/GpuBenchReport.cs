using System.Text;

namespace Bamba.Backends.Cuda.Bench;

/// <summary>What <c>bamba bench --device cuda</c> measured, with the limits measured in the same run.</summary>
public sealed record GpuBenchReport
{
    public required string Device { get; init; }
    public required string Model { get; init; }
    public required long Parameters { get; init; }
    public required long WeightBytes { get; init; }
    public required double CopyGBps { get; init; }
    public required double GemmTflops { get; init; }
    /// <summary>The SSM state's type: "float32" (the default) or "bf16".</summary>
    public required string SsmState { get; init; }
    /// <summary>How the matrices are stored: a preset's --weights (bf16, fp8, q8_0, q4_k, q6_k), or "as stored" for a model file.</summary>
    public string Weights { get; init; } = "bf16";
    public DecodeResult? Decode { get; init; }
    /// <summary>The same decode with every kernel launched from the host instead of replayed from a CUDA graph.</summary>
    public DecodeResult? DecodeWithoutGraphs { get; init; }
    public PrefillResult? Prefill { get; init; }
    public ThroughputResult? Throughput { get; init; }
    /// <summary>The throughput scenario on the comparison model (a same-size transformer), same run.</summary>
    public ThroughputResult? PeerThroughput { get; init; }
    /// <summary>With --profile: GPU time by kernel over 16 batch-1 decode steps, and over one prefill.</summary>
    public ProfileEntry[]? DecodeProfile { get; init; }
    public ProfileEntry[]? PrefillProfile { get; init; }
    /// <summary>With --profile: GPU time by kernel over 4 decode steps of the throughput scenario's batch size.</summary>
    public ProfileEntry[]? BatchDecodeProfile { get; init; }
    public double? ThroughputRatio => Throughput is { } a && PeerThroughput is { } b ? a.OutputTokensPerSecond / b.OutputTokensPerSecond : null;

    public string ToTable()
    {
        var t = new StringBuilder();
        Line(t, "device", Device);
        Line(t, "model", $"{Model}: {Parameters / 1e9:F2} B parameters, {WeightBytes / 1e9:F2} GB of {Weights} weights on the GPU, {SsmState} SSM state");
        Line(t, "device copy", $"{CopyGBps:F0} GB/s (bytes read + written, measured now)");
        Line(t, "bf16 GEMM", $"{GemmTflops:F0} TFLOP/s (cuBLASLt 8192³, measured now)");
        if (Decode is { } d)
        {
            Line(t, $"decode b=1 ({d.PromptTokens}+{d.NewTokens})", $"{d.MsPerToken:F2} ms/token = {d.TokensPerSecond:F1} tokens/s");
            Line(t, "  bandwidth floor", $"{d.FloorMs:F2} ms/token ({d.BytesPerToken / 1e9:F2} GB per token at the copy rate): {d.FractionOfFloor:P0} of the floor");
            Line(t, "  peak GPU memory", Gb(d.PeakBytes));
            if (DecodeWithoutGraphs is { } plain)
                Line(t, "  without CUDA graphs", $"{plain.MsPerToken:F2} ms/token ({plain.FractionOfFloor:P0} of the floor)");
        }
        if (Prefill is { } p)
        {
            Line(t, $"prefill 1×{p.Tokens}", $"{p.TokensPerSecond:F0} tokens/s");
            Line(t, "  GEMM ceiling", $"{p.CeilingTokensPerSecond:F0} tokens/s: {p.FractionOfCeiling:P0} of the ceiling");
            Line(t, "  peak GPU memory", Gb(p.PeakBytes));
        }
        foreach (var r in new[] { Throughput, PeerThroughput }.OfType<ThroughputResult>())
        {
            Line(t, $"throughput {r.Model}", $"{r.Requests} × ({r.PromptTokens} prompt + {r.OutputTokens} output), {r.Concurrent} at a time: " +
                $"{r.OutputTokensPerSecond:F0} output tokens/s ({r.Seconds:F1} s, {r.Steps} steps)");
            Line(t, "  peak GPU memory", Gb(r.PeakBytes));
        }
        if (ThroughputRatio is { } ratio) Line(t, "throughput ratio", $"{ratio:F2}× ({Throughput!.Model} / {PeerThroughput!.Model}, same run)");
        Profile(t, "decode profile (16 steps)", DecodeProfile);
        Profile(t, "prefill profile", PrefillProfile);
        Profile(t, "batched decode profile (4 steps)", BatchDecodeProfile);
        return t.ToString().TrimEnd();
    }

    private static void Profile(StringBuilder t, string title, ProfileEntry[]? entries)
    {
        if (entries is null) return;
        double total = entries.Sum(e => e.Milliseconds);
        t.Append($"{title}: {total:F2} ms\n");
        foreach (var e in entries.Take(24))
            t.Append($"  {e.Name,-40} {e.Milliseconds,9:F3} ms {e.Milliseconds / total,6:P1} {e.Calls,7} calls\n");
    }

    private static string Gb(long bytes) => $"{bytes / 1e9:F1} GB (total − free on the device)";

    private static void Line(StringBuilder t, string label, string value) => t.Append(label.PadRight(30)).Append(value).Append('\n');
}

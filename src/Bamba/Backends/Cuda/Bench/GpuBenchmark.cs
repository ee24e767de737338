using Bamba.Benchmarks;

namespace Bamba.Backends.Cuda.Bench;

/// <summary>What <see cref="GpuBenchmark.Run"/> measures; the defaults are the GPU speed issue's scenarios.</summary>
public sealed record GpuBenchOptions
{
    /// <summary>A model directory, or null for <see cref="Preset"/> made with random weights on the GPU.</summary>
    public string? ModelDirectory { get; init; }
    public string Preset { get; init; } = "bamba-9b";
    /// <summary>A preset whose throughput runs beside the model's for the ratio, or null.</summary>
    public string? Compare { get; init; }
    public bool Decode { get; init; } = true;
    public bool Prefill { get; init; } = true;
    public bool Throughput { get; init; } = true;
    public int PromptTokens { get; init; } = 512;
    public int NewTokens { get; init; } = 256;
    public int PrefillTokens { get; init; } = 4096;
    public int Requests { get; init; } = 64;
    public int RequestPrompt { get; init; } = 2048;
    public int RequestOutput { get; init; } = 512;
    public int PrefillChunk { get; init; } = 2048;
    public int MaxStepTokens { get; init; } = 8192;
    /// <summary>How a preset's matrices are stored: BF16, or a quantized format kept on the device (FP8, Q8_0, Q4_K, Q6_K).</summary>
    public Weights.DType Weights { get; init; } = Bamba.Weights.DType.BF16;
    /// <summary>Keep the SSM state in bf16 (half its traffic in a large decode batch) instead of float32.</summary>
    public bool Bf16SsmState { get; init; }
    /// <summary>Also report where the GPU time of decode and prefill goes, kernel by kernel.</summary>
    public bool Profile { get; init; }
}

/// <summary>Runs the chosen scenarios on one model (and the comparison model's throughput) on GPU 0.</summary>
public static class GpuBenchmark
{
    public static GpuBenchReport Run(GpuBenchOptions o, IProgress<string>? progress = null)
    {
        string name = o.ModelDirectory ?? o.Preset;
        GpuBenchReport report;
        using (var model = Open(o.ModelDirectory, o.Preset, o.Bf16SsmState, progress, o.Weights))
        {
            progress?.Report($"{name} on {model.Device.Name}: measuring copy bandwidth and GEMM rate");
            report = new GpuBenchReport
            {
                Device = model.Device.Name, Model = name, Parameters = GpuScenarios.Parameters(model.Config), WeightBytes = model.WeightBytes,
                CopyGBps = GpuLimits.CopyGBps(model.Device), GemmTflops = GpuLimits.GemmTflops(model.Ops),
                SsmState = o.Bf16SsmState ? "bf16" : "float32",
                Weights = o.ModelDirectory is null ? WeightsName(o.Weights) : "as stored",
            };
            if (o.Decode)
            {
                progress?.Report($"decode: batch 1, {o.PromptTokens}-token prompt, {o.NewTokens} new tokens");
                report = report with { Decode = GpuScenarios.Decode(model, report.CopyGBps, o.PromptTokens, o.NewTokens) };
                model.UseGraphs = false;
                progress?.Report("decode again without CUDA graphs, for the comparison");
                report = report with { DecodeWithoutGraphs = GpuScenarios.Decode(model, report.CopyGBps, o.PromptTokens, o.NewTokens) };
                model.UseGraphs = true;
            }
            if (o.Prefill)
            {
                progress?.Report($"prefill: 1 × {o.PrefillTokens} tokens");
                report = report with { Prefill = GpuScenarios.Prefill(model, report.GemmTflops, o.PrefillTokens) };
            }
            if (o.Profile)
            {
                progress?.Report("profiling decode and prefill kernel by kernel");
                report = report with
                {
                    DecodeProfile = GpuScenarios.ProfileDecode(model, o.PromptTokens, 16),
                    PrefillProfile = GpuScenarios.ProfilePrefill(model, o.PrefillTokens),
                    BatchDecodeProfile = GpuScenarios.ProfileDecodeBatch(model, o.Requests, o.PromptTokens, 4),
                };
            }
            if (o.Throughput)
            {
                progress?.Report($"throughput: {o.Requests} requests × ({o.RequestPrompt} + {o.RequestOutput}) through the scheduler");
                report = report with { Throughput = Throughput(model, name, o) };
            }
        }
        if (o.Throughput && o.Compare is { } peerName)
        {
            using var peer = Open(null, peerName, o.Bf16SsmState, progress);
            progress?.Report($"throughput on {peerName}: the same requests");
            report = report with { PeerThroughput = Throughput(peer, peerName, o) };
        }
        return report;
    }

    private static ThroughputResult Throughput(CudaModel model, string name, GpuBenchOptions o) =>
        GpuScenarios.Throughput(model, name, o.Requests, o.RequestPrompt, o.RequestOutput, o.PrefillChunk, o.MaxStepTokens);

    private static CudaModel Open(string? modelDir, string preset, bool bf16SsmState, IProgress<string>? progress,
        Weights.DType weights = Bamba.Weights.DType.BF16)
    {
        if (modelDir is not null) return CudaModel.Load(modelDir, bf16SsmState: bf16SsmState);
        progress?.Report($"making {preset} with random {WeightsName(weights)} weights on the GPU ({(bf16SsmState ? "bf16" : "float32")} SSM state)");
        return CudaModel.Synthetic(SyntheticModel.Preset(preset), bf16SsmState: bf16SsmState, weights: weights);
    }

    /// <summary>The <c>--weights</c> names and the formats they stand for.</summary>
    public static readonly IReadOnlyDictionary<string, Weights.DType> WeightFormats = new Dictionary<string, Weights.DType>
    {
        ["bf16"] = Bamba.Weights.DType.BF16, ["fp8"] = Bamba.Weights.DType.F8_E4M3, ["q8_0"] = Bamba.Weights.DType.Q8_0,
        ["q4_k"] = Bamba.Weights.DType.Q4_K, ["q6_k"] = Bamba.Weights.DType.Q6_K,
    };

    private static string WeightsName(Weights.DType format) => WeightFormats.First(f => f.Value == format).Key;
}

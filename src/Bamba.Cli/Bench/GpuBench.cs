using Bamba.Backends.Cuda.Bench;
using Bamba.Benchmarks;

namespace Bamba.Cli.Bench;

/// <summary>
/// <c>bamba bench --device cuda</c>: <see cref="GpuBenchmark"/>'s scenarios on a model directory or a shape preset made
/// on the GPU, beside the copy bandwidth and GEMM rate measured in the same run; a table or one JSON object, and with
/// <c>--json FILE</c> the JSON written there as well.
/// </summary>
internal static class GpuBench
{
    public static int Run(CommandLine args, string format, TextWriter stdout)
    {
        string? modelDir = args.String("model");
        string preset = args.Choice("preset", "bamba-9b", SyntheticModel.PresetNames);
        string scenario = args.Choice("scenario", "all", "all", "decode", "prefill", "throughput", "lora-train");
        if (scenario == "lora-train") return LoraTrain(args, modelDir, preset, format, stdout);
        string compare = args.Choice("compare", modelDir is null && preset == "bamba-9b" ? "transformer-8b" : "none",
            [.. SyntheticModel.PresetNames, "none"]);
        var options = new GpuBenchOptions
        {
            ModelDirectory = modelDir, Preset = preset, Compare = compare == "none" ? null : compare,
            Decode = scenario is "all" or "decode", Prefill = scenario is "all" or "prefill", Throughput = scenario is "all" or "throughput",
            PromptTokens = args.Int("prompt-tokens", 512, 1), NewTokens = args.Int("new-tokens", 256, 1),
            PrefillTokens = args.Int("prefill-tokens", 4096, 1), Requests = args.Int("requests", 64, 1),
            RequestPrompt = args.Int("request-prompt", 2048, 1), RequestOutput = args.Int("request-output", 512, 1),
            PrefillChunk = args.Int("prefill-chunk", 2048, 1), MaxStepTokens = args.Int("max-step-tokens", 8192, 1),
            Profile = args.Switch("profile"),
            Bf16SsmState = args.Choice("ssm-state", "fp32", "fp32", "bf16") == "bf16",
            Weights = GpuBenchmark.WeightFormats[args.Choice("weights", "bf16", [.. GpuBenchmark.WeightFormats.Keys])],
        };
        if (modelDir is not null && args.String("weights") is not null)
            throw new BambaException("--weights sets a preset's format; a --model file runs in its own");
        string? jsonFile = args.String("json");
        bool live = Output.LiveOutput.Enabled(args);
        args.EnsureAllUsed();
        var report = Output.LiveOutput.Status(live, "bench", progress => GpuBenchmark.Run(options, progress));
        stdout.WriteLine(format == "json" ? JsonLines.Write(report) : report.ToTable());
        if (jsonFile is not null) File.WriteAllText(jsonFile, JsonLines.Write(report) + "\n");
        return 0;
    }

    /// <summary>LoRA fine-tuning throughput and peak memory on a preset's shape (<see cref="LoraTrainScenario"/>).</summary>
    private static int LoraTrain(CommandLine args, string? modelDir, string preset, string format, TextWriter stdout)
    {
        if (modelDir is not null) throw new BambaException("--scenario lora-train runs on a --preset's shape (random weights), not --model");
        int rank = args.Int("lora-rank", 16, 1), tokens = args.Int("train-tokens", 4096, 1), steps = args.Int("train-steps", 3, 1);
        string? jsonFile = args.String("json");
        bool recompute = args.Switch("recompute-activations");
        bool live = Output.LiveOutput.Enabled(args);
        args.EnsureAllUsed();
        var result = Output.LiveOutput.Status(live, "bench", progress =>
            LoraTrainScenario.Run(preset, SyntheticModel.Preset(preset), rank, tokens, steps, recompute, progress));
        stdout.WriteLine(format == "json" ? JsonLines.Write(result) : result.ToTable());
        if (jsonFile is not null) File.WriteAllText(jsonFile, JsonLines.Write(result) + "\n");
        return 0;
    }
}

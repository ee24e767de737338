using Bamba.Benchmarks;
using Bamba.Cli.Output;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba bench [--device cpu] [--model DIR | --preset cpu-0.5b] [--prompt-tokens N] [--new-tokens N]
/// [--format table|json]</c>: prefill and decode speed beside the memory-copy rate measured in the same run.
/// <c>--device cuda</c> runs the GPU scenarios (<see cref="Bench.GpuBench"/>).
/// </summary>
internal sealed class BenchCommand : ICommand
{
    public string Name => "bench";
    public string Summary => "measure prefill/decode speed against the machine's memory bandwidth";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("device", "cpu, or cuda for the GPU scenarios", "cpu|cuda", "cpu"),
        new("model", "measure this model directory instead of a synthetic preset", "DIR"),
        new("preset", "the synthetic model: cpu-0.5b (CPU); bamba-9b, transformer-8b, granite-4.0-h-tiny, granite-4.0-h-small or nemotron-h-9b (CUDA)", "NAME", "cpu-0.5b on the CPU, bamba-9b on CUDA"),
        new("prompt-tokens", "prompt length for the decode measurement", "N", "128 (CPU), 512 (CUDA)"),
        new("new-tokens", "tokens decoded", "N", "32 (CPU), 256 (CUDA)"),
        new("format", "a table, or one JSON object", "table|json", "table"),
        new("scenario", "CUDA: which measurements (lora-train: LoRA fine-tuning of the preset, alone)", "all|decode|prefill|throughput|lora-train", "all"),
        new("compare", "CUDA: the preset whose throughput is measured beside", "PRESET|none", "transformer-8b for bamba-9b, else none"),
        new("prefill-tokens", "CUDA: the prefill measurement's prompt length", "N", "4096"),
        new("requests", "CUDA: requests in the throughput scenario", "N", "64"),
        new("request-prompt", "CUDA: prompt tokens per throughput request", "N", "2048"),
        new("request-output", "CUDA: output tokens per throughput request", "N", "512"),
        new("prefill-chunk", "CUDA: the scheduler's prefill chunk", "N", "2048"),
        new("max-step-tokens", "CUDA: the scheduler's tokens per step", "N", "8192"),
        new("ssm-state", "CUDA: the SSM state's precision", "fp32|bf16", "fp32"),
        new("weights", "CUDA: how the preset's matrices are stored (quantized ones stay quantized on the GPU)", "bf16|fp8|q8_0|q4_k|q6_k", "bf16"),
        Flag.Switch("profile", "CUDA: add GPU time per kernel"),
        new("lora-rank", "CUDA lora-train: the adapters' rank (on every linear layer)", "R", "16"),
        new("train-tokens", "CUDA lora-train: tokens per packed row (one row a step)", "N", "4096"),
        new("train-steps", "CUDA lora-train: timed steps, after one warm-up step", "N", "3"),
        Flag.Switch("recompute-activations", "CUDA lora-train: recompute each layer's activations in the backward, as train --recompute-activations"),
        LiveOutput.NoProgress,
        new("json", "CUDA: also write the JSON report to this file", "FILE"),
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba bench",
        "bamba bench --model models/default --prompt-tokens 256 --format json",
        "bamba bench --device cuda --scenario decode --json result.json",
        "bamba bench --device cuda --scenario lora-train --preset bamba-9b --recompute-activations",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string device = args.Choice("device", "cpu", "cpu", "cuda");
        string format = args.Choice("format", "table", "table", "json");
        if (device == "cuda") return Bench.GpuBench.Run(args, format, stdout);
        int promptTokens = args.Int("prompt-tokens", 128, 1);
        int newTokens = args.Int("new-tokens", 32, 1);
        string? modelDir = args.String("model");
        string preset = args.Choice("preset", "cpu-0.5b", "cpu-0.5b");
        bool live = LiveOutput.Enabled(args);
        args.EnsureAllUsed();

        var result = LiveOutput.Status(live, "bench", progress =>
            Bench.CpuBenchModel.Measure(modelDir, preset, progress, (model, name) => CpuBenchmark.Run(model, name, promptTokens, newTokens, progress)));
        if (format == "json") stdout.WriteLine(JsonLines.Write(result));
        else ResultTable.Write(stdout, ["measure", "result"], Rows(result));
        return 0;
    }

    private static IEnumerable<string[]> Rows(CpuBenchmarkResult r) =>
    [
        ["model", $"{r.Model}: {r.Parameters / 1e9:F3} B parameters, {r.WeightBytes / 1e9:F2} GB of weights"],
        ["threads", $"{r.Threads}"],
        ["memory copy", $"{r.CopyGBps:F2} GB/s copied = {2 * r.CopyGBps:F2} GB/s read + written (best of before and after decode)"],
        ["memory read stream", $"{r.ReadGBps:F2} GB/s (best of before and after decode)"],
        [$"prefill ({r.PromptTokens} tokens)", $"{r.PrefillTokensPerSecond:F1} tokens/s"],
        ["decode (batch 1)", $"{r.DecodeMsPerToken:F1} ms/token = {r.DecodeTokensPerSecond:F2} tokens/s (median token {r.DecodeMedianMsPerToken:F1} ms; the ratios below use the mean)"],
        ["decode step apart", $"{r.DecodeProductsMs:F1} ms in the matrix products alone (best of 5), {r.DecodeOverheadMs:F1} ms of the median token besides; {r.DecodeAllocatedBytesPerToken / 1e6:F2} MB allocated a token"],
        ["decode weight stream", $"{r.DecodeWeightGBps:F2} GB/s = {r.FractionOfCopyBandwidth:P0} of the bytes-copied rate, {r.FractionOfReadBandwidth:P0} of the read stream"],
        ["decode state traffic", $"{r.StateBytesPerDecodedToken / 1e6:F1} MB/token (SSM states and conv windows read + written, KV read), not in the weight stream; with it {r.DecodeTotalGBps:F2} GB/s"],
    ];
}

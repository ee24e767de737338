using System.Diagnostics;
using System.Text;
using Bamba.Backends.Cuda.Training;
using Bamba.Configuration;
using Bamba.Training;
using Bamba.Training.Lora;

namespace Bamba.Backends.Cuda.Bench;

/// <summary>
/// What <c>bamba bench --device cuda --scenario lora-train</c> measured: LoRA fine-tuning steps (forward, backward,
/// clipping, AdamW on the adapters) over a frozen bf16 base, and the device memory they took at most. Full
/// fine-tuning is given as the bytes its weights and optimizer alone would take (fp32 masters, fp32 gradients, bf16
/// copies, two fp32 moments: 18 bytes a parameter), since for 9B that is more than the device holds.
/// <see cref="RecomputeActivations"/> says which mode ran; <see cref="WorkBytes"/> is what the trainer's work buffers
/// (activations, tapes, scratch) took on the device at the end.
/// </summary>
public sealed record LoraTrainResult(string Device, string Model, long Parameters, int Rank, long AdapterParameters, int RowTokens, int Steps,
    double Seconds, long PeakBytes, long DeviceBytes, bool RecomputeActivations, long WorkBytes)
{
    public double TokensPerSecond => (double)Steps * RowTokens / Seconds;
    public long FullFineTuneStateBytes => 18 * Parameters;

    public string ToTable()
    {
        var t = new StringBuilder();
        void Line(string label, string value) => t.Append(label.PadRight(30)).Append(value).Append('\n');
        Line("device", $"{Device} ({DeviceBytes / 1e9:F1} GB)");
        Line("model", $"{Model}: {Parameters / 1e9:F2} B parameters, frozen in bf16");
        Line("adapters", $"rank {Rank} on every linear layer: {AdapterParameters / 1e6:F1} M trained parameters (fp32, fp32 AdamW moments)");
        Line($"LoRA steps ({RowTokens}-token rows)", $"{TokensPerSecond:F0} tokens/s ({Steps} steps in {Seconds:F2} s, after one warm-up step)");
        Line("activations", RecomputeActivations ? "recomputed per layer in the backward (--recompute-activations)" : "every layer's kept for the backward");
        Line("  peak GPU memory", $"{PeakBytes / 1e9:F1} GB (total − free on the device)");
        Line("  work buffers", $"{WorkBytes / 1e9:F1} GB (activations and scratch, within the peak)");
        Line("full fine-tuning", $"weights, gradients and AdamW moments alone: {FullFineTuneStateBytes / 1e9:F0} GB" +
            (FullFineTuneStateBytes > DeviceBytes ? ": does not fit on this device" : ""));
        return t.ToString().TrimEnd();
    }
}

public static class LoraTrainScenario
{
    /// <summary>
    /// <paramref name="steps"/> timed steps of one packed row of <paramref name="rowTokens"/> random tokens (sequences of
    /// 512) on <paramref name="config"/> with random weights, rank-<paramref name="rank"/> adapters on every target;
    /// <paramref name="recompute"/>: with activation recomputation.
    /// </summary>
    public static LoraTrainResult Run(string name, BambaConfig config, int rank, int rowTokens, int steps, bool recompute, IProgress<string>? progress = null)
    {
        progress?.Report($"making {name}'s random weights on the host");
        var parameters = ParameterSet.Initialize(config, seed: 1);
        var lora = new LoraSet(parameters, new LoraSettings(rank, 2f * rank, 0f, LoraSettings.AllTargets));
        lora.Initialize(seed: 1);
        using var device = CudaDevice.Open(0);
        using var peak = new PeakMemory(device);
        progress?.Report($"uploading the frozen bf16 base and rank-{rank} adapters to {device.Name}");
        using var engine = new CudaTrainingEngine(device, parameters, new AdamW(lora.Parameters, new AdamWOptions()), CudaPrecision.BFloat16, lora, recompute);
        var rng = new Random(5);
        var batch = new TrainingBatch(Enumerable.Range(0, (rowTokens + 511) / 512)
            .Select(i => Enumerable.Range(0, Math.Min(512, rowTokens - 512 * i)).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToList());
        void Step()
        {
            engine.ZeroGrad();
            engine.ForwardBackward(batch, 1f / batch.TargetCount, (float)config.ZLossCoefficient / batch.Rows);
            engine.ClipGradients(1.0);
            engine.Update(1e-4f);
        }
        progress?.Report("warm-up step");
        Step();
        device.Synchronize();
        progress?.Report($"{steps} timed steps of {rowTokens} tokens");
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        device.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        return new LoraTrainResult(device.Name, name, parameters.Count, rank, lora.Parameters.Sum(p => (long)p.Length), rowTokens, steps, seconds,
            peak.PeakBytes, device.MemoryInfo().Total, recompute, engine.WorkBytes);
    }
}

using System.Diagnostics;
using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Benchmarks;

/// <summary>One CPU benchmark run: prefill and batch-1 decode speed of a model next to the memory-copy rate.</summary>
public sealed record CpuBenchmarkResult(
    string Model, long Parameters, long WeightBytes, int Threads, double CopyGBps, double ReadGBps,
    int PromptTokens, double PrefillTokensPerSecond,
    int NewTokens, double DecodeMsPerToken, double DecodeTokensPerSecond, long BytesPerDecodedToken)
{
    /// <summary>Weight bytes a decode step reads, per second.</summary>
    public double DecodeWeightGBps => BytesPerDecodedToken / (DecodeMsPerToken / 1000) / 1e9;
    public double FractionOfCopyBandwidth => DecodeWeightGBps / CopyGBps;
    public double FractionOfReadBandwidth => DecodeWeightGBps / ReadGBps;
}

public static class CpuBenchmark
{
    public static CpuBenchmarkResult Run(BambaModel model, string name, int promptTokens, int newTokens, IProgress<string>? progress = null)
    {
        progress?.Report("measuring memory-copy bandwidth");
        double copy = MemoryBandwidth.CopyGBps();
        double read = MemoryBandwidth.ReadGBps();
        var report = ModelReport.Create(model);
        var random = new Random(5);
        var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray();

        progress?.Report("warming up");
        model.Step([model.CreateState()], [prompt[..Math.Min(8, prompt.Length)]]);

        progress?.Report($"prefill of {promptTokens} tokens");
        var state = model.CreateState();
        var sw = Stopwatch.StartNew();
        var logits = model.Step([state], [prompt])[0];
        double prefill = sw.Elapsed.TotalSeconds;

        progress?.Report($"decoding {newTokens} tokens");
        sw.Restart();
        for (int i = 0; i < newTokens; i++)
            logits = model.Step([state], [new[] { Sampler.ArgMax(logits) }])[0];
        double decode = sw.Elapsed.TotalSeconds;

        long embeddingBytes = model.Weights.Embedding.Info.ByteLength;
        // Decode reads every weight once per token except the embedding table, of which it reads one row.
        long perToken = report.WeightBytes - (model.Config.TieWordEmbeddings ? 0 : embeddingBytes);
        return new CpuBenchmarkResult(name, report.Parameters, report.WeightBytes, Environment.ProcessorCount, copy, read,
            promptTokens, promptTokens / prefill, newTokens, decode * 1000 / newTokens, newTokens / decode, perToken);
    }
}

using System.Diagnostics;
using Bamba.Backends.Cpu;
using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Benchmarks;

/// <summary>One CPU benchmark run: prefill and batch-1 decode speed of a model next to the memory-copy rate.</summary>
public sealed record CpuBenchmarkResult(
    string Model, long Parameters, long WeightBytes, int Threads, double CopyGBps, double ReadGBps,
    int PromptTokens, double PrefillTokensPerSecond,
    int NewTokens, double DecodeMsPerToken, double DecodeTokensPerSecond, long BytesPerDecodedToken, long StateBytesPerDecodedToken,
    double DecodeMedianMsPerToken, double DecodeProductsMs, long DecodeAllocatedBytesPerToken)
{
    /// <summary>What a median decode step spends outside its matrix products (<see cref="DecodeProductsMs"/>, measured alone).</summary>
    public double DecodeOverheadMs => DecodeMedianMsPerToken - DecodeProductsMs;
    /// <summary>Weight bytes a decode step reads, per second.</summary>
    public double DecodeWeightGBps => BytesPerDecodedToken / (DecodeMsPerToken / 1000) / 1e9;
    public double FractionOfCopyBandwidth => DecodeWeightGBps / CopyGBps;
    public double FractionOfReadBandwidth => DecodeWeightGBps / ReadGBps;
    /// <summary>Weights plus the sequence state a decode step moves (<see cref="StateBytesPerDecodedToken"/>), per second.</summary>
    public double DecodeTotalGBps => (BytesPerDecodedToken + StateBytesPerDecodedToken) / (DecodeMsPerToken / 1000) / 1e9;
}

public static class CpuBenchmark
{
    public static CpuBenchmarkResult Run(BambaModel model, string name, int promptTokens, int newTokens, IProgress<string>? progress = null)
    {
        progress?.Report("measuring memory bandwidth");
        var (copy, read) = (MemoryBandwidth.CopyGBps(), MemoryBandwidth.ReadGBps());
        var report = ModelReport.Create(model);
        var random = new Random(5);
        var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray();

        progress?.Report("warming up");
        WarmUp(model, prompt);

        progress?.Report($"prefill of {promptTokens} tokens");
        var state = model.CreateState();
        var sw = Stopwatch.StartNew();
        var logits = model.Step([state], [prompt])[0];
        double prefill = sw.Elapsed.TotalSeconds;

        progress?.Report($"decoding {newTokens} tokens");
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        sw.Restart();
        var tokenMs = Decode(model, state, logits, newTokens);
        double decode = sw.Elapsed.TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        progress?.Report("the decode step's matrix products alone");
        double products = DecodeProductsMs(model);

        // Measured again after decode, the higher rate kept: on a shared machine the limit is not understated.
        progress?.Report("measuring memory bandwidth again");
        (copy, read) = (Math.Max(copy, MemoryBandwidth.CopyGBps()), Math.Max(read, MemoryBandwidth.ReadGBps()));
        long embeddingBytes = model.Weights.Embedding.Info.ByteLength;
        // Decode reads every weight once per token except the embedding table, of which it reads one row.
        long perToken = report.WeightBytes - (model.Config.TieWordEmbeddings ? 0 : embeddingBytes);
        return new CpuBenchmarkResult(name, report.Parameters, report.WeightBytes, Environment.ProcessorCount, copy, read,
            promptTokens, promptTokens / prefill, newTokens, decode * 1000 / newTokens, newTokens / decode, perToken, StateTraffic(state),
            tokenMs.Order().ElementAt(newTokens / 2), products, allocated / newTokens);
    }

    /// <summary>
    /// Best of five rounds of every matrix a decode step multiplies (all 2-D weights but an untied embedding table),
    /// one input row each, back to back: the step's products without the work between them.
    /// </summary>
    private static double DecodeProductsMs(BambaModel model)
    {
        string embedding = model.Weights.Embedding.Info.Name;
        var matrices = model.Store.Tensors
            .Where(t => t.Shape.Length == 2 && (t.Name != embedding || model.Config.TieWordEmbeddings))
            .Select(t => model.Store.Get(t.Name)).ToArray();
        var x = new float[matrices.Max(w => w.Shape[1])];
        var y = new float[matrices.Max(w => w.Shape[0])];
        Array.Fill(x, 0.01f);
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long start = Stopwatch.GetTimestamp();
            foreach (var w in matrices) Linear.Forward(x.AsSpan(0, (int)w.Shape[1]), 1, w, [], y.AsSpan(0, (int)w.Shape[0]));
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return best;
    }

    /// <summary>
    /// Prefills and decodes a few tokens until .NET's tiered compilation has settled, so that what is measured is the
    /// steady state (as llama.cpp's runs are): under 10 methods compiled in a round, counting the 200 ms after it in which
    /// the runtime recompiles methods called often enough on a background thread (a first round compiles ~1200, the
    /// next ~120; a few stragglers of timers and output never stop). Without this, a 128-token prefill of
    /// the 0.5 B Q4_K_M model shared the two cores with that recompilation and ran at 150–180 tok/s instead of 200–240.
    /// The first round prefills the measured length, so the buffers a prompt of it needs are already grown.
    /// </summary>
    private static void WarmUp(BambaModel model, int[] prompt)
    {
        for (int round = 0; round < 10; round++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            var warm = model.CreateState();
            var run = round == 0 ? prompt : prompt[..Math.Min(16, prompt.Length)];
            Decode(model, warm, model.Step([warm], [run])[0], 4);
            Thread.Sleep(200);
            if (System.Runtime.JitInfo.GetCompiledMethodCount() - compiled < 10) return;
        }
    }

    /// <summary>Greedy batch-1 decode of <paramref name="tokens"/> tokens; the milliseconds each took.</summary>
    private static double[] Decode(BambaModel model, CpuSequenceState state, float[] logits, int tokens)
    {
        var ms = new double[tokens];
        for (int i = 0; i < tokens; i++)
        {
            long start = Stopwatch.GetTimestamp();
            logits = model.Step([state], [new[] { Sampler.ArgMax(logits) }])[0];
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return ms;
    }

    /// <summary>
    /// Bytes of sequence state the last decode step moved besides the weights: each Mamba layer's SSM state and conv
    /// window read and written, each attention layer's KV cache read. Reported apart from the weight stream.
    /// </summary>
    private static long StateTraffic(CpuSequenceState s) =>
        2L * sizeof(float) * (s.Ssm.Sum(x => (long)(x?.Length ?? 0)) + s.Conv.Sum(x => (long)(x?.Length ?? 0)))
        + sizeof(float) * s.Kv.Sum(kv => kv?.Floats ?? 0);
}

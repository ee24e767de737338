using System.Diagnostics;
using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>Prefill and batch-1 decode speed of a <see cref="CudaModel"/>, beside the device's copy bandwidth measured in the same run.</summary>
public sealed record CudaBenchmarkResult(string Device, CudaPrecision Precision, long WeightBytes, double CopyGBps,
    int PromptTokens, double PrefillTokensPerSecond, int NewTokens, double DecodeMsPerToken, long BytesPerDecodedToken)
{
    public double DecodeTokensPerSecond => 1000 / DecodeMsPerToken;
    public double DecodeWeightGBps => BytesPerDecodedToken / (DecodeMsPerToken / 1000) / 1e9;
    public double FractionOfCopyBandwidth => DecodeWeightGBps / CopyGBps;

    public override string ToString() => string.Join('\n',
        $"device                {Device}, {Precision}",
        $"weights on the GPU    {WeightBytes / 1e9:F2} GB",
        $"device copy           {CopyGBps:F0} GB/s (bytes read + written, measured now)",
        $"prefill ({PromptTokens} tokens)   {PrefillTokensPerSecond:F0} tokens/s",
        $"decode (batch 1)      {DecodeMsPerToken:F2} ms/token = {DecodeTokensPerSecond:F1} tokens/s (GPU greedy, ids only)",
        $"decode weight stream  {DecodeWeightGBps:F0} GB/s = {FractionOfCopyBandwidth:P0} of the copy bandwidth");
}

public static class CudaBenchmark
{
    public static CudaBenchmarkResult Run(CudaModel model, int promptTokens, int newTokens)
    {
        double copy = CopyGBps(model.Device);
        var random = new Random(5);
        var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray();
        using (var warm = model.CreateState())
        {
            var id = model.StepAndSample([warm], [prompt], [SamplingOptions.Greedy], [0f]);
            for (int i = 0; i < 3; i++) id = model.StepAndSample([warm], [id], [SamplingOptions.Greedy], [0f]);
        }
        using var state = model.CreateState();
        var sw = Stopwatch.StartNew();
        var next = model.StepAndSample([state], [prompt], [SamplingOptions.Greedy], [0f]);
        double prefill = sw.Elapsed.TotalSeconds;
        sw.Restart();
        for (int i = 0; i < newTokens; i++) next = model.StepAndSample([state], [next], [SamplingOptions.Greedy], [0f]);
        double decode = sw.Elapsed.TotalSeconds;
        long embedding = (long)model.Config.VocabSize * model.Config.HiddenSize * (model.Precision == CudaPrecision.BFloat16 ? 2 : 4);
        // Decode reads every weight once per token except the embedding table (one row), unless it is also the head.
        long perToken = model.WeightBytes - (model.Config.TieWordEmbeddings ? 0 : embedding);
        return new CudaBenchmarkResult(model.Device.Name, model.Precision, model.WeightBytes, copy, promptTokens, promptTokens / prefill,
            newTokens, decode * 1000 / newTokens, perToken);
    }

    /// <summary>Device-to-device copy of 1 GiB, timed with events: (read + written) bytes per second.</summary>
    public static double CopyGBps(CudaDevice device, long bytes = 1L << 30, int passes = 5)
    {
        using var a = device.Allocate(bytes);
        using var b = device.AllocateZeroed(bytes);
        device.CopyDevice(a.Pointer, b.Pointer, bytes);
        using var start = device.CreateEvent();
        using var end = device.CreateEvent();
        start.Record();
        for (int i = 0; i < passes; i++) device.CopyDevice(i % 2 == 0 ? a.Pointer : b.Pointer, i % 2 == 0 ? b.Pointer : a.Pointer, bytes);
        end.Record();
        double seconds = end.MillisecondsSince(start) / 1000;
        return 2.0 * bytes * passes / seconds / 1e9;
    }
}

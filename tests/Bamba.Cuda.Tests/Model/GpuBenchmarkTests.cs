using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Bench;
using Bamba.Configuration;

namespace Bamba.Cuda.Tests.Model;

/// <summary>The GPU bench's parts on a small synthetic shape: they run end to end and count what they claim (no timing asserted).</summary>
public class GpuBenchmarkTests
{
    private static BambaConfig Small => new()
    {
        VocabSize = 1000, HiddenSize = 256, IntermediateSize = 512, NumHiddenLayers = 4, NumAttentionHeads = 8, NumKeyValueHeads = 2,
        AttnLayerIndices = [1], MambaNHeads = 8, MambaDHead = 64, MambaDState = 32, MambaChunkSize = 16, Dtype = "bfloat16",
    };

    [Fact]
    public void ScenariosRunOnASyntheticModel()
    {
        Gpu.Require();
        using var model = CudaModel.Synthetic(Small);
        var c = model.Config;
        long matrices = GpuScenarios.MatrixParametersPerToken(c);
        long embedding = (long)c.VocabSize * c.HiddenSize;
        Assert.Equal((matrices + 2 * embedding) * 2, model.WeightBytes - VectorBytes(c)); // bf16 matrices + fp32 vectors
        Assert.Equal(model.WeightBytes - embedding * 2, model.DecodeWeightBytes);

        var decode = GpuScenarios.Decode(model, copyGBps: 1000, promptTokens: 8, newTokens: 5);
        Assert.True(decode.MsPerToken > 0 && decode.PeakBytes > model.WeightBytes);
        var prefill = GpuScenarios.Prefill(model, gemmTflops: 100, tokens: 40);
        Assert.True(prefill.TokensPerSecond > 0 && prefill.CeilingTokensPerSecond > 0);
        var throughput = GpuScenarios.Throughput(model, "small", requests: 5, promptTokens: 20, outputTokens: 6, prefillChunk: 8, maxStepTokens: 16);
        Assert.Equal(5 * 6 / throughput.Seconds, throughput.OutputTokensPerSecond, 6);
        Assert.True(throughput.Steps >= 6);
    }

    [Fact]
    public void SyntheticWeightsAreSmallAndVaried()
    {
        Gpu.Require();
        using var model = CudaModel.Synthetic(Small);
        using var state = model.CreateState();
        var logits = model.Step([state], [new Generation.SequenceInput(new[] { 5, 6, 7 })])[0];
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.True(logits.Distinct().Count() > logits.Length / 2, "random weights should give varied logits");
    }

    /// <summary>
    /// A quantized synthetic model (bench --weights): its matrices hold the format's bytes, the embedding stays bf16,
    /// a decode step counts the quantized bytes it streams, and its random blocks give finite, varied logits.
    /// </summary>
    [Theory]
    [InlineData(Weights.DType.Q4_K)]
    [InlineData(Weights.DType.Q8_0)]
    [InlineData(Weights.DType.F8_E4M3)]
    public void QuantizedSyntheticModelsStreamTheirFormatsBytes(Weights.DType format)
    {
        Gpu.Require();
        using var model = CudaModel.Synthetic(Small, weights: format);
        var c = model.Config;
        long embedding = (long)c.VocabSize * c.HiddenSize * 2;
        long head = format == Weights.DType.F8_E4M3 ? embedding : DeviceMatrix.BytesPerRow(format, c.HiddenSize) * c.VocabSize;
        Assert.Equal(model.WeightBytes - embedding, model.DecodeWeightBytes);
        Assert.True(model.DecodeWeightBytes - head < (GpuScenarios.MatrixParametersPerToken(c) * 2 + VectorBytes(c)) * 2 / 3,
            "the layers' quantized matrices should take well under the bf16 bytes");
        using var state = model.CreateState();
        var logits = model.Step([state], [new Generation.SequenceInput(new[] { 5, 6, 7 })])[0];
        logits = model.Step([state], [new Generation.SequenceInput(new[] { 8 })])[0];
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.True(logits.Distinct().Count() > logits.Length / 2, "random weights should give varied logits");
    }

    private static long VectorBytes(BambaConfig c)
    {
        long h = c.HiddenSize, perMamba = (long)c.ConvDim * c.MambaDConv + c.ConvDim + 3L * c.MambaNHeads + c.MambaIntermediate;
        return 4 * (h + Enumerable.Range(0, c.NumHiddenLayers).Sum(l => 2 * h + (c.IsAttentionLayer(l) ? 0 : perMamba)));
    }
}

using Bamba.Weights;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>The per-tensor types of <c>--type</c>, as llama.cpp's <c>llama_tensor_get_type</c> and <c>tensor_type_fallback</c> choose them.</summary>
public class GgufFileTypeTests
{
    private static readonly GgufFileType Q4KM = GgufFileType.Parse("q4_k_m"), Q8 = GgufFileType.Parse("q8_0");

    private static TensorPosition At(int ffnDownIndex) => new(Layers: 8, AttentionIndex: 0, AttentionLayers: 2, FfnDownIndex: ffnDownIndex, TiedEmbeddings: false);

    [Theory]
    [InlineData("blk.0.ffn_down.weight", 0, DType.Q6_K)]       // the first eighth
    [InlineData("blk.2.ffn_down_exps.weight", 2, DType.Q4_K)]  // (2 - 1) % 3 != 2
    [InlineData("blk.3.ffn_down_shexp.weight", 3, DType.Q6_K)] // (3 - 1) % 3 == 2: experts and shared experts count too
    [InlineData("blk.7.ffn_down_exps.weight", 7, DType.Q6_K)]  // the last eighth
    [InlineData("blk.2.ffn_up_exps.weight", 2, DType.Q4_K)]
    public void Q4KMGivesMoreBitsToTheFfnDownLayersLlamaCppPicks(string name, int ffnDownIndex, DType expected) =>
        Assert.Equal(expected, Q4KM.TypeOf(name, [4, 256, 256], At(ffnDownIndex)));

    [Fact]
    public void RouterNormsAndConvStayFloat()
    {
        Assert.Equal(DType.F32, Q4KM.TypeOf("blk.1.ffn_gate_inp.weight", [4, 256], At(0)));
        Assert.Equal(DType.F32, Q8.TypeOf("blk.1.ssm_conv1d.weight", [160, 4], At(0)));
        Assert.Equal(DType.F32, Q8.TypeOf("blk.1.ssm_norm.weight", [1, 256], At(0)));
        Assert.Equal(DType.F32, Q8.TypeOf("blk.1.exp_probs_b.bias", [4], At(0)));
    }

    [Theory]
    [InlineData("q4_k_m", 96, DType.Q8_0)] // a K-quant without whole 256-blocks: Q8_0 (llama.cpp: Q5_0 for Q4_K)
    [InlineData("q8_0", 80, DType.F16)]    // no whole 32-blocks: F16
    [InlineData("q4_0", 48, DType.F16)]
    [InlineData("q8_0", 64, DType.Q8_0)]
    public void RowsThatAreNotWholeBlocksFallBack(string type, long rowLength, DType expected) =>
        Assert.Equal(expected, GgufFileType.Parse(type).TypeOf("blk.0.ffn_up.weight", [8, rowLength], At(0)));
}

using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tests.Modeling;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>
/// llama.cpp and bamba run the same GGUF file written by <c>bamba convert</c>: at F32 both reproduce transformers'
/// 24 greedy tokens; at Q8_0 they agree with each other for the first 16.
/// </summary>
[Collection("llama.cpp")]
public class LlamaCppAgreementTests
{
    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void F32GreedyTokensMatchTransformersInBoth(string modelName)
    {
        var (prompt, expected) = Greedy(modelName);
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "f32.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("f32"));

        Assert.Equal(expected, LlamaCpp.Greedy(file, prompt, expected.Length).Tokens);
        Assert.Equal(expected, Ours(file, prompt, expected.Length));
    }

    /// <remarks>
    /// Not met yet on two fixtures: the engines part at token 13 (small-bamba, where our top-2 logits are 0.023 apart)
    /// and at token 15 (tiny-bamba-bf16-sharded), although both quantize the activations the same way and agree on
    /// all 24 tokens at F32. The cause is not found; the cases stay here, skipped, so the gap is seen.
    /// </remarks>
    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-bamba-bf16-sharded")]
    [InlineData("small-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h")]
    public void Q8_0GreedyTokensAgreeForSixteen(string modelName)
    {
        var (prompt, _) = Greedy(modelName);
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "q8_0.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("q8_0"));

        Assert.Equal(LlamaCpp.Greedy(file, prompt, 16).Tokens, Ours(file, prompt, 16));
    }

    /// <summary>
    /// llama.cpp's own converter permutes Q/K over whole heads and writes rope.dimension_count = head_dim: a file
    /// in that layout (written here with the rotary fraction set to 1) is read by bamba as llama.cpp computes it,
    /// RoPE over the whole head, so the two engines should agree on it, and both leave transformers' partial-RoPE
    /// tokens. Measured: both leave transformers at token 2, but they part from each other at token 3 (cause not
    /// found), so the case is skipped rather than passed.
    /// </summary>
    [Fact]
    public void WholeHeadPermutedFileIsComputedAsLlamaCppComputesIt()
    {
        var (prompt, transformers) = Greedy("tiny-bamba");
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "whole-head.gguf");
        string source = Fixtures.Model("tiny-bamba");
        var config = Bamba.Configuration.BambaConfigReader.Load(Path.Combine(source, "config.json")) with { PartialRotaryFactor = 1.0 };
        using (var store = Bamba.Weights.WeightStore.Open(source))
            GgufExport.Write(file, config, store, GgufFileType.Parse("f32"), "tiny-bamba", GgufTokenizer.FromHf(source, config.VocabSize));

        var ours = Ours(file, prompt, transformers.Length);
        Assert.Equal(LlamaCpp.Greedy(file, prompt, transformers.Length).Tokens, ours);
        Assert.NotEqual(transformers, ours);
    }

    private static (int[] Prompt, int[] NewTokens) Greedy(string modelName)
    {
        using var reference = new Reference(modelName);
        var greedy = reference.Json.GetProperty("greedy");
        return (Reference.Ints(greedy.GetProperty("prompt")), Reference.Ints(greedy.GetProperty("new_tokens")));
    }

    internal static int[] Ours(string file, int[] prompt, int count)
    {
        using var model = BambaModel.Load(file);
        return new Generator(model).Generate([prompt], new GenerationOptions { MaxNewTokens = count, EosTokenIds = [] })[0].TokenIds.ToArray();
    }
}

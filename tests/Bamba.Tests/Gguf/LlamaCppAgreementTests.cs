using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tests.Modeling;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>
/// llama.cpp and bamba run the same GGUF file written by <c>bamba convert</c>: at F32 both reproduce transformers'
/// 24 greedy tokens; at Q8_0 they agree with each other for the first 16. Skipped cases say what fails and why
/// (docs/gguf.md has the measurements).
/// </summary>
[Collection("llama.cpp")]
public class LlamaCppAgreementTests
{
    private const string NemotronFixture = "llama.cpp cannot load tiny-nemotron-h: nemotron_h_moe routes every feed-forward "
        + "layer, and the plain MLP layer 4 beside the mixtures fails with missing tensor 'blk.4.ffn_gate_inp.weight' "
        + "(LlamaCppRefusesNemotronHWithAPlainMlpBesideExperts; the cut models of NemotronHCutModelsAgreeAt* run instead)";

    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-bamba-bf16-sharded")]
    [InlineData("small-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h", Skip = NemotronFixture)]
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
    /// Where skipped, greedy decoding meets a near-tie below the engines' Q8_0 disagreement. Both quantize the
    /// activations alike, but that rounding amplifies float-level differences: llama.cpp's F32 log-probs differ from
    /// transformers' by 5e-5 (ours by 1e-6), and a perturbation of that size moves our own Q8_0 log-probs by 3e-2.
    /// </remarks>
    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-bamba-bf16-sharded", Skip = "near-tie at Q8_0 greedy token 15 (0-based): llama.cpp's top-2 log-probs 0.028 apart, the engines' 0.061 apart there (docs/gguf.md)")]
    [InlineData("small-bamba", Skip = "near-tie at Q8_0 greedy token 13 (0-based): llama.cpp's top-2 log-probs 0.033 apart, the engines' 0.040 apart there (docs/gguf.md)")]
    [InlineData("tiny-granite-moe-hybrid", Skip = "near-tie at Q8_0 greedy token 12 (0-based): llama.cpp's top-2 log-probs 0.0019 apart, the engines' 0.0032 apart there (docs/gguf.md)")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h", Skip = NemotronFixture)]
    public void Q8_0GreedyTokensAgreeForSixteen(string modelName)
    {
        var (prompt, _) = Greedy(modelName);
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "q8_0.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("q8_0"));

        Assert.Equal(LlamaCpp.Greedy(file, prompt, 16).Tokens, Ours(file, prompt, 16));
    }

    /// <summary>The fixture's file is refused by llama.cpp for the stated reason, while bamba reproduces transformers on it.</summary>
    [Fact]
    public void LlamaCppRefusesNemotronHWithAPlainMlpBesideExperts()
    {
        var (prompt, expected) = Greedy("tiny-nemotron-h");
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "f32.gguf");
        ModelConversion.ToGguf(Fixtures.Model("tiny-nemotron-h"), file, GgufFileType.Parse("f32"));

        Assert.Contains("missing tensor 'blk.4.ffn_gate_inp.weight'", LlamaCpp.Refusal(file, prompt));
        Assert.Equal(expected, Ours(file, prompt, expected.Length));
    }

    /// <summary>Nemotron-H as llama.cpp can hold it: the fixture without its MLP layer (nemotron_h_moe) or without its
    /// mixture layers (nemotron_h); the two engines agree on 24 greedy tokens at F32.</summary>
    [Theory]
    [InlineData("mlp", "nemotron_h_moe")]
    [InlineData("moe", "nemotron_h")]
    public void NemotronHCutModelsAgreeAtF32(string dropped, string architecture)
    {
        var (prompt, _) = Greedy("tiny-nemotron-h");
        using var dir = new TempDir();
        string file = CutModelFile(dir, dropped, "f32");

        var gguf = GgufModel.Open(file);
        using (gguf.Store) Assert.Equal(architecture, gguf.Metadata.String("general.architecture"));
        Assert.Equal(LlamaCpp.Greedy(file, prompt, 24).Tokens, Ours(file, prompt, 24));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("moe", Skip = "near-tie at Q8_0 greedy token 3 (0-based): llama.cpp's top-2 log-probs 0.0033 apart, the engines' 0.0081 apart there (docs/gguf.md)")]
    public void NemotronHCutModelsAgreeAtQ8_0ForSixteen(string dropped)
    {
        var (prompt, _) = Greedy("tiny-nemotron-h");
        using var dir = new TempDir();
        string file = CutModelFile(dir, dropped, "q8_0");

        Assert.Equal(LlamaCpp.Greedy(file, prompt, 16).Tokens, Ours(file, prompt, 16));
    }

    private static string CutModelFile(TempDir dir, string dropped, string type)
    {
        string file = Path.Combine(dir.Path, type + ".gguf");
        ModelConversion.ToGguf(NemotronVariants.Without(Path.Combine(dir.Path, "hf"), dropped), file, GgufFileType.Parse(type));
        return file;
    }

    /// <summary>
    /// llama.cpp's own converter permutes Q/K over whole heads and writes rope.dimension_count = head_dim: a file
    /// in that layout (written here with the rotary fraction set to 1) is read by bamba as llama.cpp computes it,
    /// RoPE over the whole head, so the two engines agree on it, and both leave transformers' partial-RoPE tokens.
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

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
    [MemberData(nameof(Fixtures.Models), MemberType = typeof(Fixtures))]
    public void F32GreedyTokensMatchTransformersInBoth(string modelName)
    {
        var (prompt, expected) = Greedy(modelName);
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "f32.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("f32"));

        Assert.Equal(expected, LlamaCpp.Greedy(file, prompt, expected.Length).Tokens);
        Assert.Equal(expected, Ours(file, prompt, expected.Length));
    }

    [Theory]
    [MemberData(nameof(Fixtures.Models), MemberType = typeof(Fixtures))]
    public void Q8_0GreedyTokensAgreeForSixteen(string modelName)
    {
        var (prompt, _) = Greedy(modelName);
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "q8_0.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("q8_0"));

        Assert.Equal(LlamaCpp.Greedy(file, prompt, 16).Tokens, Ours(file, prompt, 16));
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

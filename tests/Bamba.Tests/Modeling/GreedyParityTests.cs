using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Tests.Modeling;

/// <summary>
/// Greedy generation with the hybrid cache reproduces transformers' tokens exactly. The references run for a fixed
/// number of tokens (one row emits EOS midway and goes on), so EOS stopping is off here.
/// </summary>
public class GreedyParityTests
{
    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void SinglePromptGreedyTokensMatch(string modelName)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var greedy = reference.Json.GetProperty("greedy");
        var expected = Reference.Ints(greedy.GetProperty("new_tokens"));

        var result = new Generator(model).Generate([Reference.Ints(greedy.GetProperty("prompt"))],
            new GenerationOptions { MaxNewTokens = expected.Length, EosTokenIds = [] })[0];

        Assert.Equal(expected, result.TokenIds);
    }

    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void LeftPaddedBatchGreedyTokensMatch(string modelName)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var batch = reference.Json.GetProperty("greedy_batch_left_padded");
        var masks = batch.GetProperty("attention_mask").EnumerateArray().Select(Reference.Ints).ToArray();
        // The generator pads on its own: hand it the real tokens of each row.
        var prompts = batch.GetProperty("prompts").EnumerateArray().Select(Reference.Ints)
            .Select((p, i) => p.Where((_, t) => masks[i][t] == 1).ToArray()).ToArray();
        var expected = batch.GetProperty("new_tokens").EnumerateArray().Select(Reference.Ints).ToArray();
        Assert.True(prompts[0].Length != prompts[1].Length, "the fixture's rows should differ in length");

        var results = new Generator(model).Generate(prompts, new GenerationOptions { MaxNewTokens = expected[0].Length, EosTokenIds = [] });

        Assert.Equal(expected[0], results[0].TokenIds);
        Assert.Equal(expected[1], results[1].TokenIds);
    }
}

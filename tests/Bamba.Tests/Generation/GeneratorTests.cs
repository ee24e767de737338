using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Tests.Generation;

public class GeneratorTests
{
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");

    [Fact]
    public async Task StreamingYieldsTheSameTokensAsBatchGeneration()
    {
        using var model = BambaModel.Load(Tiny);
        var generator = new Generator(model);
        var options = new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [] };
        var expected = generator.Generate([[7, 8, 9, 10]], options)[0].TokenIds;

        var streamed = new List<int>();
        await foreach (int id in generator.StreamAsync([7, 8, 9, 10], options)) streamed.Add(id);

        Assert.Equal(expected, streamed);
    }

    [Fact]
    public void BatchResultsEqualSingleResults()
    {
        using var model = BambaModel.Load(Tiny);
        var generator = new Generator(model);
        var options = new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [] };
        int[][] prompts = [[3, 4, 5, 6, 7, 8, 9], [11], [20, 21, 22]];

        var batch = generator.Generate(prompts, options);

        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(generator.Generate([prompts[i]], options)[0].TokenIds, batch[i].TokenIds);
    }

    [Fact]
    public void StopsAtEosAndKeepsIt()
    {
        using var model = BambaModel.Load(Tiny);
        var generator = new Generator(model);
        var free = generator.Generate([[7, 8, 9, 10]], new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [] })[0].TokenIds;
        int stopAt = free[4];

        var stopped = generator.Generate([[7, 8, 9, 10]], new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [], StopTokenIds = [stopAt] })[0];

        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free[..(Array.IndexOf(free, stopAt) + 1)], stopped.TokenIds);
    }

    [Fact]
    public async Task CancellationStopsStreaming()
    {
        using var model = BambaModel.Load(Tiny);
        using var cts = new CancellationTokenSource();
        var got = new List<int>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (int id in new Generator(model).StreamAsync([1, 2], new GenerationOptions { MaxNewTokens = 50, EosTokenIds = [] }, cts.Token))
            {
                got.Add(id);
                if (got.Count == 3) cts.Cancel();
            }
        });
        Assert.Equal(3, got.Count);
    }
}

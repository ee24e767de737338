using Bamba.Backends.Cuda;
using Bamba.Generation;

namespace Bamba.Cuda.Tests.Model;

/// <summary>Batch-1 decode replayed from a CUDA graph picks the tokens the plain launches pick, across cache growth.</summary>
public class DecodeGraphTests
{
    [Theory]
    [InlineData("tiny-bamba", CudaPrecision.Float32)]
    [InlineData("tiny-bamba", CudaPrecision.BFloat16)]
    [InlineData("tiny-bamba-bf16-sharded", CudaPrecision.BFloat16)]
    [InlineData("tiny-granite-moe-hybrid", CudaPrecision.Float32)] // routed experts: the device's routing is captured too
    [InlineData("tiny-granite-moe-hybrid", CudaPrecision.BFloat16)]
    [InlineData("tiny-nemotron-h", CudaPrecision.Float32)]
    [InlineData("tiny-nemotron-h", CudaPrecision.BFloat16)]
    public void GraphedDecodeEqualsPlainDecode(string modelName, CudaPrecision precision)
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model(modelName), precision);
        var random = new Random(11);
        // 1000 prompt tokens + 40 steps: the block table outgrows the graph's 16 slots (1024 positions) mid-way, which
        // forces a new capture.
        var prompt = Enumerable.Range(0, 1000).Select(_ => random.Next(3, model.Config.VocabSize)).ToArray();
        // Greedy: a graphed step splits attention by the table's slots, a plain one by the cache's length, so the sums run in
        // another order; a sampled draw could flip on such a last-bit difference, an argmax practically never does.
        var sampling = SamplingOptions.Greedy;

        int[] Decode(bool graphs)
        {
            model.UseGraphs = graphs;
            Assert.Equal(graphs, model.UseGraphs);
            using var state = model.CreateState();
            var draws = new Random(5);
            var ids = new List<int> { model.StepAndSample([state], [prompt], [sampling], [draws.NextSingle()])[0] };
            for (int i = 0; i < 40; i++) ids.Add(model.StepAndSample([state], [new[] { ids[^1] }], [sampling], [draws.NextSingle()])[0]);
            return [.. ids];
        }

        var plain = Decode(graphs: false);
        var graphed = Decode(graphs: true);
        Assert.Equal(plain, graphed);
    }

    /// <summary>Two sequences decoded in turn: each switch re-captures, and no step replays the other sequence's graph.</summary>
    [Fact]
    public void AlternatingSequencesDecodeAsAlone()
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.BFloat16);
        var random = new Random(12);
        int[][] prompts = [.. Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 20).Select(_ => random.Next(3, model.Config.VocabSize)).ToArray())];

        List<int>[] Decode(bool graphs, bool alternate)
        {
            model.UseGraphs = graphs;
            var states = prompts.Select(_ => model.CreateState()).ToArray();
            var ids = prompts.Select((p, i) => new List<int> { model.StepAndSample([states[i]], [p], [SamplingOptions.Greedy], [0f])[0] }).ToArray();
            var order = alternate ? Enumerable.Range(0, 24).Select(i => i % 2) : Enumerable.Repeat(0, 12).Concat(Enumerable.Repeat(1, 12));
            foreach (int i in order) ids[i].Add(model.StepAndSample([states[i]], [new[] { ids[i][^1] }], [SamplingOptions.Greedy], [0f])[0]);
            foreach (var s in states) s.Dispose();
            return ids;
        }

        var plain = Decode(graphs: false, alternate: false);
        var alternating = Decode(graphs: true, alternate: true);
        for (int i = 0; i < 2; i++) Assert.Equal(plain[i], alternating[i]);
    }
}

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
    public void GraphedDecodeEqualsPlainDecode(string modelName, CudaPrecision precision)
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model(modelName), precision);
        var random = new Random(11);
        // 60 prompt tokens + 40 steps: the KV cache grows from 64 to 128 rows mid-way, which forces a new capture.
        var prompt = Enumerable.Range(0, 60).Select(_ => random.Next(3, model.Config.VocabSize)).ToArray();
        // Greedy: a graphed step splits attention by the cache's capacity, a plain one by its length, so the sums run in
        // another order; a sampled draw could flip on such a last-bit difference, an argmax practically never does.
        var sampling = SamplingOptions.Greedy;

        int[] Decode(bool graphs)
        {
            model.UseGraphs = graphs;
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
}

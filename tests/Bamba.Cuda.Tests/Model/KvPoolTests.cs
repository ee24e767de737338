using Bamba.Backends.Cuda;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Generation;

namespace Bamba.Cuda.Tests.Model;

/// <summary>The model's paged KV pool: a sized pool refuses what it cannot hold, gives released blocks to the next
/// sequence, and an unsized one grows under interleaved sequences without changing any result.</summary>
public class KvPoolTests
{
    private static int[] Tokens(Random random, int n, int vocab) => Enumerable.Range(0, n).Select(_ => random.Next(3, vocab)).ToArray();

    /// <summary>tiny-bamba in fp32: each test loads it twice, the model under test and one whose sequences run alone.</summary>
    private static CudaModel Load()
    {
        Gpu.Require();
        return CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.Float32);
    }

    [Fact]
    public void FullPoolRefusesAndReleasedBlocksServeTheNextSequence()
    {
        using CudaModel model = Load(), alone = Load();
        var random = new Random(21);
        int vocab = model.Config.VocabSize;
        int[] a = Tokens(random, 150, vocab), b = Tokens(random, 150, vocab), c = Tokens(random, 150, vocab);
        model.ReserveKvCache(2, 192, 384); // 6 blocks of 64: two sequences of 150 tokens fill it

        var first = model.CreateState();
        using var second = model.CreateState();
        using var third = model.CreateState();
        model.Step([first], [a]);
        model.Step([second], [b]);
        var full = Assert.Throws<BambaException>(() => model.Step([third], [c[..10]]));
        Assert.Contains("the KV cache is full", full.Message);

        first.Dispose(); // its three blocks go back to the pool
        var logits = model.Step([third], [c])[0];
        var next = model.Step([second], [new[] { 5 }])[0];

        using var cAlone = alone.CreateState();
        using var bAlone = alone.CreateState();
        Close.Assert(alone.Step([cAlone], [c])[0], logits, 1e-5, "a sequence on released blocks");
        alone.Step([bAlone], [b]);
        Close.Assert(alone.Step([bAlone], [new[] { 5 }])[0], next, 1e-5, "a sequence beside reused blocks");
    }

    [Fact]
    public void UnsizedPoolGrowsUnderInterleavedSequences()
    {
        using CudaModel model = Load(), alone = Load();
        var random = new Random(22);
        int vocab = model.Config.VocabSize;
        // Three prompts of 1500 tokens in chunks of 300 taken in turn: 72 blocks, past the 64 an unsized pool starts with,
        // so it grows (copying every sequence's blocks) mid-way, and each sequence's blocks interleave with the others'.
        var prompts = Enumerable.Range(0, 3).Select(_ => Tokens(random, 1500, vocab)).ToArray();
        var states = prompts.Select(_ => model.CreateState()).ToArray();
        var last = new float[3][];
        for (int start = 0; start < 1500; start += 300)
            for (int i = 0; i < 3; i++) last[i] = model.Step([states[i]], [prompts[i][start..(start + 300)]])[0];
        var decoded = model.Step(states, [.. Enumerable.Range(0, 3).Select(i => new SequenceInput(new[] { 7 + i }))]);

        for (int i = 0; i < 3; i++)
        {
            using var state = alone.CreateState();
            float[] expected = [];
            for (int start = 0; start < 1500; start += 300) expected = alone.Step([state], [prompts[i][start..(start + 300)]])[0];
            Close.Assert(expected, last[i], 1e-5, $"sequence {i} after its prompt");
            Close.Assert(alone.Step([state], [new[] { 7 + i }])[0], decoded[i], 1e-5, $"sequence {i} decoded in a batch");
        }
        foreach (var s in states) s.Dispose();
    }
}

using Bamba.Backends.Cuda;
using Bamba.Generation;

namespace Bamba.Cuda.Tests.Prefix;

/// <summary>
/// A CUDA sequence state's prefix-cache segments on their own: a state rebuilt from a path of segments continues with
/// the very logits of the sequence it was captured from (bit for bit: the same kernels over the same state), the
/// shared blocks are never written by a restored sequence, and every block goes back to the pool.
/// </summary>
public class SnapshotStateTests
{
    public static readonly TheoryData<string> Models = ["tiny-bamba", "tiny-granite-hybrid-dense-rope"];

    internal static CudaModel Load(string name)
    {
        Gpu.Require();
        return CudaModel.Load(Fixtures.Model(name), CudaPrecision.Float32);
    }

    internal static int[] Tokens(int length, int seed, int vocab)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(3, vocab)).ToArray();
    }

    /// <summary>
    /// Segments end inside a block (40, 100), on a block boundary (128) and past it (150); each path's restore continues
    /// exactly as the original, whose own blocks the restored sequences share.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void RestoredPathsContinueAsTheOriginal(string name)
    {
        using var model = Load(name);
        int vocab = model.Config.VocabSize, free = FreeAfterWarmUp(model);
        var prompt = Tokens(150, 31, vocab);
        int[] ends = [40, 100, 128, 150];
        var segments = new List<StateSegment>();
        using (var original = model.CreateState())
        {
            int at = 0;
            foreach (int end in ends)
            {
                model.Step([original], [prompt[at..end]]);
                var size = original.CaptureSize(at);
                var segment = original.Capture(at);
                Assert.Equal((size.Bytes, size.Blocks), (segment.Bytes, segment.Blocks));
                segments.Add(segment);
                at = end;
            }
            var next = Tokens(70, 32, vocab); // past the next block boundary: the restored sequences write new blocks
            var expected = model.Forward([original], [next]);

            for (int depth = 1; depth <= ends.Length; depth++)
            {
                using var restored = model.CreateState();
                restored.Restore(segments.Take(depth).ToList());
                Assert.Equal(ends[depth - 1], restored.Length);
                for (int i = depth; i < ends.Length; i++) model.Step([restored], [prompt[ends[i - 1]..ends[i]]]); // the original's runs
                Assert.Equal(expected, model.Forward([restored], [next]));
            }
        }
        // Only the segments hold blocks now; once released, the pool is whole again.
        Assert.True(model.FreeKvBlocks < free || model.Config.NumAttentionLayers == 0);
        foreach (var s in segments) s.Release();
        Assert.Equal(free, model.FreeKvBlocks);
    }

    /// <summary>A dropped recurrent state keeps the KV rows a deeper point needs; the path can no longer end there.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void ADroppedPointStillServesTheDeeperOne(string name)
    {
        using var model = Load(name);
        int vocab = model.Config.VocabSize;
        var prompt = Tokens(90, 33, vocab);
        using var original = model.CreateState();
        model.Step([original], [prompt[..50]]);
        var first = original.Capture(0);
        model.Step([original], [prompt[50..]]);
        var second = original.Capture(50);
        long before = first.Bytes;
        first.DropRecurrent();
        Assert.False(first.HasRecurrent);
        Assert.True(first.Bytes < before);

        using var restored = model.CreateState();
        Assert.Throws<ArgumentException>(() => restored.Restore([first]));
        restored.Restore([first, second]);
        var next = Tokens(5, 34, vocab);
        Assert.Equal(model.Forward([original], [next]), model.Forward([restored], [next]));
        first.Release();
        second.Release();
    }

    /// <summary>The pool's free blocks once a first sequence has made an unsized pool allocate.</summary>
    private static int FreeAfterWarmUp(CudaModel model)
    {
        using (var warm = model.CreateState()) model.Step([warm], [new[] { 5 }]);
        return model.FreeKvBlocks;
    }
}

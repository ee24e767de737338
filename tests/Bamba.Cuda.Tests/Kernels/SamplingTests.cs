using Bamba.Backends.Cuda;
using Bamba.Generation;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// The GPU sampler against a CPU twin of its rule (transformers' order: temperature, top-k, top-p over the
/// renormalised survivors, then a draw in vocabulary order with the row's uniform).
/// </summary>
public class SamplingTests
{
    [Fact]
    public void GreedyPicksTheFirstMaximum()
    {
        var ops = Gpu.Ops();
        int vocab = 128256;
        var logits = Gpu.Random(90, 3 * vocab, 10f);
        logits[vocab + 5] = 50f; logits[vocab + 99] = 50f; // a tie: the first wins, as torch.argmax
        var ids = Run(ops, logits, vocab, [0f, 0f, 0f], [0, 0, 0], [1f, 1f, 1f], [0.5f, 0.5f, 0.5f]);
        for (int r = 0; r < 3; r++) Assert.Equal(Sampler.ArgMax(logits.AsSpan(r * vocab, vocab)), ids[r]);
        Assert.Equal(vocab + 5 - vocab, ids[1]);
    }

    [Theory]
    [InlineData(1.0f, 0, 1.0f)]
    [InlineData(0.7f, 50, 1.0f)]
    [InlineData(1.3f, 0, 0.9f)]
    [InlineData(0.8f, 40, 0.5f)]
    [InlineData(1.0f, 1, 1.0f)]
    public void DrawsMatchTheCpuTwin(float temperature, int topK, float topP)
    {
        var ops = Gpu.Ops();
        int vocab = 5000, rows = 16;
        var logits = Gpu.Random(91, rows * vocab, 6f);
        var uniforms = Gpu.Random(92, rows).Select(u => (u + 1) / 2 * 0.999f).ToArray();
        var ids = Run(ops, logits, vocab, Enumerable.Repeat(temperature, rows).ToArray(), Enumerable.Repeat(topK, rows).ToArray(),
            Enumerable.Repeat(topP, rows).ToArray(), uniforms);
        for (int r = 0; r < rows; r++)
            Assert.Equal(Twin(logits.AsSpan(r * vocab, vocab), temperature, topK, topP, uniforms[r]), ids[r]);
    }

    private static int[] Run(CudaOps ops, float[] logits, int vocab, float[] t, int[] k, float[] p, float[] u)
    {
        int rows = t.Length;
        using var ld = Gpu.F32(logits);
        using var td = Gpu.F32(t);
        using var kd = Gpu.I32(k);
        using var pd = Gpu.F32(p);
        using var ud = Gpu.F32(u);
        using var outd = ops.Device.Allocate(rows * 4);
        ops.Sample(ld.Pointer, vocab, td.Pointer, kd.Pointer, pd.Pointer, ud.Pointer, outd.Pointer, rows);
        return ops.Device.Download<int>(outd.Pointer, rows);
    }

    /// <summary>The rule with a sort, in double: keep the k largest, then the most likely until the mass reaches p.
    /// A −∞ logit (a grammar's masked id) is never drawn, not even as the last kept id.</summary>
    internal static int Twin(ReadOnlySpan<float> row, float temperature, int topK, float topP, float u)
    {
        var scaled = row.ToArray().Select(v => v / temperature).ToArray();
        var order = Enumerable.Range(0, scaled.Length).OrderByDescending(i => scaled[i]).ToList();
        if (topK > 0 && topK < order.Count) order = order.Take(topK).ToList();
        float max = scaled[order[0]];
        var e = scaled.Select(v => (double)MathF.Exp(v - max)).ToArray();
        if (topP < 1f)
        {
            double z = order.Sum(i => e[i]), kept = 0;
            int n = 0;
            while (n < order.Count && (n == 0 || kept < topP * z)) kept += e[order[n++]];
            order = order.Take(n).ToList();
        }
        var keep = order.ToHashSet();
        double total = keep.Sum(i => e[i]), target = u * total, cum = 0;
        int last = -1;
        for (int i = 0; i < scaled.Length; i++)
        {
            if (!keep.Contains(i) || float.IsNegativeInfinity(scaled[i])) continue;
            cum += e[i];
            last = i;
            if (cum > target) return i;
        }
        return last;
    }
}

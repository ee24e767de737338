using Bamba.Backends.Cpu;
using Bamba.Configuration;

namespace Bamba.Modeling;

/// <summary>Grouped-query self-attention over each sequence's KV cache, with (partial) RoPE where the family uses it.</summary>
internal static class AttentionMixer
{
    public static void Forward(BambaConfig c, AttentionWeights w, int layer, Rope rope, TokenBatch batch, float[] input, float[] output)
    {
        int rows = batch.Rows;
        var shape = Shape(c);
        var q = ScratchArrays.Get("attention.q", rows * shape.QueryWidth);
        var k = ScratchArrays.Get("attention.k", rows * shape.KvWidth);
        var v = ScratchArrays.Get("attention.v", rows * shape.KvWidth);
        Linear.Forward(input, rows, w.Q, [], q);
        Linear.Forward(input, rows, w.K, [], k);
        Linear.Forward(input, rows, w.V, [], v);
        w.QDelta?.Add(input, rows, q, batch.Adapters);
        w.KDelta?.Add(input, rows, k, batch.Adapters);
        w.VDelta?.Add(input, rows, v, batch.Adapters);
        if (c.UseRope)
        {
            ApplyRope(rope, batch, q, c.NumAttentionHeads, c.HeadDim);
            ApplyRope(rope, batch, k, c.NumKeyValueHeads, c.HeadDim);
        }

        var attended = ScratchArrays.Get("attention.attended", rows * shape.QueryWidth);
        // Runs one after another: each spreads its (query, head) pairs over the cores itself.
        for (int run = 0; run < batch.Runs; run++)
        {
            int r0 = batch.Offset(run), len = batch.Length(run);
            var cache = batch.States[run].Kv[layer]!;
            cache.Append(k.AsSpan(r0 * shape.KvWidth), v.AsSpan(r0 * shape.KvWidth), batch.Padding.AsSpan(r0, len), len);
            AttentionKernel.Forward(shape, q.AsSpan(r0 * shape.QueryWidth, len * shape.QueryWidth), len,
                cache.Keys, cache.Values, cache.Padding, attended.AsSpan(r0 * shape.QueryWidth, len * shape.QueryWidth));
        }
        Linear.Forward(attended, rows, w.O, [], output);
        w.ODelta?.Add(attended, rows, output, batch.Adapters);
    }

    /// <summary>The kernel's shape, with the family's softmax scale.</summary>
    public static AttentionKernel.Shape Shape(BambaConfig c) =>
        new(c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim) { Scale = c.AttentionScale is double s ? (float)s : null };

    private static void ApplyRope(Rope rope, TokenBatch batch, float[] x, int heads, int headDim)
    {
        for (int r = 0; r < batch.Rows; r++)
        {
            if (batch.Positions[r] < 0) continue;
            for (int h = 0; h < heads; h++)
                rope.Apply(x.AsSpan((r * heads + h) * headDim, headDim), batch.Positions[r]);
        }
    }
}

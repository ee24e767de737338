using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Causal grouped-query attention of a run of new queries over a sequence's cached keys and values
/// (softmax in float32, scale head_dim^-0.5 unless the shape sets one). Keys marked as padding are never attended to.
/// Many queries (prefill) run as blocked products (<see cref="AttentionBlocks"/>), a few (decode) one (query, head) pair
/// at a time.
/// </summary>
public static unsafe class AttentionKernel
{
    public readonly record struct Shape(int Heads, int KvHeads, int HeadDim)
    {
        public int QueryWidth => Heads * HeadDim;
        public int KvWidth => KvHeads * HeadDim;
        /// <summary>The softmax scale when the model sets one (Granite's attention_multiplier); else head_dim^-0.5.</summary>
        public float? Scale { get; init; }
        public float SoftmaxScale => Scale ?? 1f / MathF.Sqrt(HeadDim);
    }

    /// <param name="q">[T, Heads·HeadDim] queries (RoPE applied) of the last T cached positions.</param>
    /// <param name="keys">[L, KvHeads·HeadDim] all cached keys, the T new ones last.</param>
    /// <param name="keyIsPadding">[L] padding flags of the cached positions.</param>
    /// <param name="output">[T, Heads·HeadDim].</param>
    public static void Forward(Shape shape, ReadOnlySpan<float> q, int steps, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<bool> keyIsPadding, Span<float> output)
    {
        fixed (float* qp = q, kp = keys, vp = values, op = output)
        fixed (bool* pp = keyIsPadding)
        {
            if (steps >= BlockedMinSteps && keyIsPadding.Length <= BlockedMaxKeys) new AttentionBlocks(shape, qp, steps, kp, vp, pp, keyIsPadding.Length, op).Run();
            // One chunk per (query, head): a decode step spreads its heads over the cores.
            else CpuWorkers.Run(new Work(shape, qp, kp, vp, pp, op, keyIsPadding.Length, steps));
        }
    }

    /// <summary>From this many new queries, attention runs as blocked products (<see cref="AttentionBlocks"/>).</summary>
    private const int BlockedMinSteps = 8;
    /// <summary>Up to this many cached keys: the blocked path holds one kv head's keys and values again, transposed and padded.</summary>
    private const int BlockedMaxKeys = 16384;

    [ThreadStatic] private static float[]? _scores;

    private sealed class Work(Shape shape, float* q, float* keys, float* values, bool* padding, float* output, int cached, int steps)
        : ChunkedWork(steps * shape.Heads)
    {
        protected override void RunChunk(int index)
        {
            if (_scores is null || _scores.Length < cached) _scores = new float[Math.Max(cached, 2 * (_scores?.Length ?? 0))];
            var scores = _scores;
            int t = index / shape.Heads, h = index % shape.Heads;
            int visible = cached - steps + t + 1; // causal: keys up to and including this query's position
            int kvh = h / (shape.Heads / shape.KvHeads);
            long at = (long)t * shape.QueryWidth + h * shape.HeadDim;
            AttendOneHead(shape, new ReadOnlySpan<float>(q + at, shape.HeadDim), kvh, visible,
                new ReadOnlySpan<float>(keys, cached * shape.KvWidth), new ReadOnlySpan<float>(values, cached * shape.KvWidth),
                new ReadOnlySpan<bool>(padding, cached), shape.SoftmaxScale, scores, new Span<float>(output + at, shape.HeadDim));
        }
    }

    private static void AttendOneHead(Shape shape, ReadOnlySpan<float> qh, int kvh, int visible, ReadOnlySpan<float> keys,
        ReadOnlySpan<float> values, ReadOnlySpan<bool> keyIsPadding, float scale, float[] scores, Span<float> oh)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < visible; j++)
        {
            if (keyIsPadding[j]) { scores[j] = float.NegativeInfinity; continue; }
            scores[j] = TensorPrimitives.Dot(qh, keys.Slice(j * shape.KvWidth + kvh * shape.HeadDim, shape.HeadDim)) * scale;
            max = MathF.Max(max, scores[j]);
        }
        oh.Clear();
        if (float.IsNegativeInfinity(max)) return; // a padding query with nothing to attend to
        float sum = 0f;
        for (int j = 0; j < visible; j++)
        {
            float e = keyIsPadding[j] ? 0f : MathF.Exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        for (int j = 0; j < visible; j++)
            if (scores[j] != 0f)
                TensorPrimitives.MultiplyAdd(values.Slice(j * shape.KvWidth + kvh * shape.HeadDim, shape.HeadDim), scores[j] / sum, oh, oh);
    }
}

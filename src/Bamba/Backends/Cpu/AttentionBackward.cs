using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Gradient of causal grouped-query attention over one run (no cache, no padding), recomputing the softmax:
/// with <c>P = softmax(q·kᵀ·scale)</c> and <c>o = P·v</c>: <c>dv += Pᵀ·do</c>, <c>dP = do·vᵀ</c>,
/// <c>dS = P ⊙ (dP − Σ dP⊙P)</c>, <c>dq = scale·dS·k</c>, <c>dk += scale·dSᵀ·q</c>.
/// </summary>
public static class AttentionBackward
{
    /// <param name="q">[T, Heads·HeadDim] (RoPE applied); <paramref name="keys"/>, <paramref name="values"/> [T, KvHeads·HeadDim].</param>
    /// <param name="dq">written; <paramref name="dk"/>, <paramref name="dv"/> written (zeroed first).</param>
    public static void Run(AttentionKernel.Shape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int steps, ReadOnlySpan<float> dOut, Span<float> dq, Span<float> dk, Span<float> dv)
    {
        dk[..(steps * shape.KvWidth)].Clear();
        dv[..(steps * shape.KvWidth)].Clear();
        var (qa, ka, va, doa) = (q.ToArray(), keys.ToArray(), values.ToArray(), dOut.ToArray());
        var (dqa, dka, dva) = (new float[steps * shape.QueryWidth], new float[steps * shape.KvWidth], new float[steps * shape.KvWidth]);
        int group = shape.Heads / shape.KvHeads;
        Parallel.For(0, shape.KvHeads, kvh =>
        {
            for (int h = kvh * group; h < (kvh + 1) * group; h++) Head(shape, h, kvh, steps, qa, ka, va, doa, dqa, dka, dva);
        });
        dqa.CopyTo(dq);
        dka.CopyTo(dk);
        dva.CopyTo(dv);
    }

    private static void Head(AttentionKernel.Shape s, int h, int kvh, int steps, float[] q, float[] k, float[] v, float[] dOut,
        float[] dq, float[] dk, float[] dv)
    {
        int hd = s.HeadDim;
        float scale = s.SoftmaxScale;
        var p = new float[steps];
        var dp = new float[steps];
        Span<float> Q(float[] a, int t) => a.AsSpan(t * s.QueryWidth + h * hd, hd);
        Span<float> KV(float[] a, int j) => a.AsSpan(j * s.KvWidth + kvh * hd, hd);
        for (int t = 0; t < steps; t++)
        {
            float max = float.NegativeInfinity;
            for (int j = 0; j <= t; j++) { p[j] = TensorPrimitives.Dot(Q(q, t), KV(k, j)) * scale; max = MathF.Max(max, p[j]); }
            float sum = 0f;
            for (int j = 0; j <= t; j++) { p[j] = MathF.Exp(p[j] - max); sum += p[j]; }
            float dot = 0f;
            for (int j = 0; j <= t; j++)
            {
                p[j] /= sum;
                dp[j] = TensorPrimitives.Dot(Q(dOut, t), KV(v, j));
                dot += dp[j] * p[j];
                TensorPrimitives.MultiplyAdd(Q(dOut, t), p[j], KV(dv, j), KV(dv, j));
            }
            var dqt = Q(dq, t);
            for (int j = 0; j <= t; j++)
            {
                float ds = p[j] * (dp[j] - dot) * scale;
                TensorPrimitives.MultiplyAdd(KV(k, j), ds, dqt, dqt);
                TensorPrimitives.MultiplyAdd(Q(q, t), ds, KV(dk, j), KV(dk, j));
            }
        }
    }
}

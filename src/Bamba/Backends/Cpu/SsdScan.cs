using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// The Mamba-2 state-space scan (SSD), chunked as in the Mamba-2 paper (section 6): within a chunk of Q steps the
/// output is a masked "attention" <c>y[t] = Σ_{s≤t} exp(a(s,t]) (C[t]·B[s]) dt[s] x[s]</c>, and across chunks only the
/// state <c>S[p, n]</c> is carried: <c>S ← exp(a(c0−1, last]) S + Σ_s exp(a(s, last]) dt[s] x[s] ⊗ B[s]</c>, where
/// <c>a(s, t] = Σ_{r=s+1..t} dt[r]·A</c>. A one-step run is exactly the recurrent update
/// <c>S ← exp(dt·A) S + dt x ⊗ B; y = S·C + D x</c>, which decode runs as <see cref="SsdStep"/> in one pass over the state.
/// Decay sums are accumulated per pair, never as differences of prefix sums, to stay exact in float32.
/// </summary>
public static class SsdScan
{
    /// <summary>Layout of one run of T steps for one sequence.</summary>
    public readonly record struct Shape(int Heads, int HeadDim, int Groups, int StateSize, int ChunkSize)
    {
        public int Inner => Heads * HeadDim;
        public int HeadsPerGroup => Heads / Groups;
    }

    /// <param name="xbc">[T, stride]: x at column 0, B at <c>Inner</c>, C at <c>Inner + Groups·StateSize</c>.</param>
    /// <param name="dt">[T, Heads] time steps after softplus and clamping.</param>
    /// <param name="state">[Heads, HeadDim, StateSize], updated in place.</param>
    /// <param name="y">[T, Inner] output, including the D skip term.</param>
    public static void Run(Shape shape, float[] xbc, int xbcOffset, int stride, int steps, float[] dt, int dtOffset,
        float[] a, float[] d, float[] state, float[] y, int yOffset)
    {
        if (steps == 1) { SsdStep.Run(shape, xbc, xbcOffset, dt, dtOffset, a, d, state, y, yOffset); return; }
        for (int c0 = 0; c0 < steps; c0 += shape.ChunkSize)
        {
            int len = Math.Min(shape.ChunkSize, steps - c0);
            var view = new ChunkView(shape, xbc, xbcOffset + c0 * stride, stride, dt, dtOffset + c0 * shape.Heads, len);
            float[] cb = CrossProducts(view);
            Parallel.For(0, shape.Heads, h => ChunkForHead(view, h, a[h], d[h], cb, state, y, yOffset + c0 * shape.Inner));
        }
    }

    /// <summary>A chunk of one run: accessors for x, B, C and dt at chunk-relative step t.</summary>
    private readonly record struct ChunkView(Shape Shape, float[] Xbc, int Offset, int Stride, float[] Dt, int DtOffset, int Length)
    {
        public ReadOnlySpan<float> X(int t, int h) => Xbc.AsSpan(Offset + t * Stride + h * Shape.HeadDim, Shape.HeadDim);
        public ReadOnlySpan<float> B(int t, int g) => Xbc.AsSpan(Offset + t * Stride + Shape.Inner + g * Shape.StateSize, Shape.StateSize);
        public ReadOnlySpan<float> C(int t, int g) =>
            Xbc.AsSpan(Offset + t * Stride + Shape.Inner + (Shape.Groups + g) * Shape.StateSize, Shape.StateSize);
        public float DtAt(int t, int h) => Dt[DtOffset + t * Shape.Heads + h];
    }

    /// <summary><c>cb[g, t, s] = C[t]·B[s]</c> for s ≤ t: shared by every head of a group.</summary>
    private static float[] CrossProducts(ChunkView v)
    {
        int len = v.Length;
        var cb = new float[v.Shape.Groups * len * len];
        for (int g = 0; g < v.Shape.Groups; g++)
            for (int t = 0; t < len; t++)
                for (int s = 0; s <= t; s++)
                    cb[(g * len + t) * len + s] = TensorPrimitives.Dot(v.C(t, g), v.B(s, g));
        return cb;
    }

    private static void ChunkForHead(ChunkView v, int h, float a, float d, float[] cb, float[] state, float[] y, int yOffset)
    {
        var s = v.Shape;
        int len = v.Length, g = h / s.HeadsPerGroup, p = s.HeadDim, n = s.StateSize;
        var headState = state.AsSpan(h * p * n, p * n);
        float[] dA = new float[len];
        for (int t = 0; t < len; t++) dA[t] = v.DtAt(t, h) * a;

        float prefix = 0f; // a(c0-1, t]: decay from the chunk's initial state to step t
        for (int t = 0; t < len; t++)
        {
            prefix += dA[t];
            var yt = y.AsSpan(yOffset + t * s.Inner + h * p, p);
            var xt = v.X(t, h);
            var ct = v.C(t, g);
            float fromState = MathF.Exp(prefix);
            for (int i = 0; i < p; i++)
                yt[i] = d * xt[i] + fromState * TensorPrimitives.Dot(headState.Slice(i * n, n), ct);
            float acc = 0f; // a(s, t]
            for (int j = t; j >= 0; j--)
            {
                float w = MathF.Exp(acc) * cb[(g * len + t) * len + j] * v.DtAt(j, h);
                TensorPrimitives.MultiplyAdd(v.X(j, h), w, yt, yt);
                acc += dA[j];
            }
        }
        UpdateState(v, h, g, dA, headState);
    }

    /// <summary><c>S ← exp(a(c0−1, last]) S + Σ_s exp(a(s, last]) dt[s] x[s] ⊗ B[s]</c>.</summary>
    private static void UpdateState(ChunkView v, int h, int g, float[] dA, Span<float> headState)
    {
        int len = v.Length, p = v.Shape.HeadDim, n = v.Shape.StateSize;
        float total = 0f;
        for (int t = 0; t < len; t++) total += dA[t];
        TensorPrimitives.Multiply(headState, MathF.Exp(total), headState);
        float acc = 0f;
        for (int j = len - 1; j >= 0; j--)
        {
            float w = MathF.Exp(acc) * v.DtAt(j, h);
            var xj = v.X(j, h);
            var bj = v.B(j, g);
            for (int i = 0; i < p; i++)
                TensorPrimitives.MultiplyAdd(bj, w * xj[i], headState.Slice(i * n, n), headState.Slice(i * n, n));
            acc += dA[j];
        }
    }
}

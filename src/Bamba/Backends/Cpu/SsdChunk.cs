using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Bamba.Backends.Cpu;

/// <summary>
/// One chunk of <see cref="SsdScan"/> as matrix products on <see cref="MicroKernel"/>. Per group, once:
/// <c>CB = C · Bᵀ</c> [L, L]. Per head, on <see cref="CpuWorkers"/>, with the state held transposed (Sᵀ [n, p]):
/// <list type="number">
/// <item><c>Y = diag(exp(a(c0−1, t])) · (C · Sᵀ)</c>, the contribution of the state entering the chunk;</item>
/// <item><c>Y += M · X</c>, <c>M[t, s] = exp(a(s, t]) · CB[t, s] · dt[s]</c> for s ≤ t (lower triangular);</item>
/// <item><c>Sᵀ ← exp(a(c0−1, last]) · Sᵀ + Bᵀ · (w ⊙ X)</c>, <c>w[s] = exp(a(s, last]) · dt[s]</c>;</item>
/// <item><c>y = Y + D · x</c>.</item>
/// </list>
/// Scratch matrices are padded to <see cref="MicroKernel.ColumnMultiple"/> columns (zeros), so the products never need
/// a column tail; they live in per-thread buffers that only grow.
/// </summary>
internal readonly unsafe struct SsdChunk(SsdScan.Shape s, float* xbc, int stride, int length, float* dt, float* a, float* d, float* state, float* y)
{
    [ThreadStatic] private static float[]? _shared;
    [ThreadStatic] private static float[]? _scratch;

    private SsdScan.Shape Shape => s;
    private int L => length;
    private int Lp => Pad(length);
    private int P => Pad(s.HeadDim);

    private static int Pad(int n) => (n + MicroKernel.ColumnMultiple - 1) / MicroKernel.ColumnMultiple * MicroKernel.ColumnMultiple;

    private float* X(int t) => xbc + (long)t * stride;
    private float* B(int t, int g) => xbc + (long)t * stride + s.Inner + g * s.StateSize;
    private float* C(int t, int g) => xbc + (long)t * stride + s.Inner + (s.Groups + g) * s.StateSize;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run()
    {
        int n = s.StateSize, groupFloats = n * Lp + L * Lp; // Bᵀ, then CB
        float* shared = ThreadBuffers.Get(ref _shared, s.Groups * groupFloats);
        for (int g = 0; g < s.Groups; g++)
        {
            float* bt = shared + g * groupFloats, cb = bt + n * Lp;
            new Span<float>(bt, groupFloats).Clear();
            for (int t = 0; t < L; t++)
                for (int j = 0; j < n; j++) bt[j * Lp + t] = B(t, g)[j];
            MicroKernel.Product(CpuKernels.Current, C(0, g), stride, L, n, bt, Lp, Lp, cb, Lp, causal: false);
        }
        CpuWorkers.Run(new Heads(this, shared, groupFloats));
    }

    private sealed class Heads(SsdChunk chunk, float* shared, int groupFloats) : ChunkedWork(chunk.Shape.Heads)
    {
        protected override void RunChunk(int h) => chunk.Head(h, shared + h / chunk.Shape.HeadsPerGroup * groupFloats);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Head(int h, float* group)
    {
        int p = s.HeadDim, n = s.StateSize, g = h / s.HeadsPerGroup;
        float* bt = group, cb = group + n * Lp;
        float* scratch = ThreadBuffers.Get(ref _scratch, 3 * L * P + n * P + L * Lp + 4 * L);
        float* x = scratch, wx = x + L * P, yh = wx + L * P, st = yh + L * P, m = st + n * P;
        float* dA = m + L * Lp, fromState = dA + L, w = fromState + L, dth = w + L;
        new Span<float>(yh, L * P).Clear(); // accumulated into; x, wx, st and m are written in full below, padding included

        float total = 0f;
        for (int t = 0; t < L; t++)
        {
            dth[t] = dt[t * s.Heads + h];
            dA[t] = dth[t] * a[h];
            total += dA[t];
            fromState[t] = total; // a(c0-1, t]
            new ReadOnlySpan<float>(X(t) + h * p, p).CopyTo(new Span<float>(x + t * P, p));
            new Span<float>(x + t * P + p, P - p).Clear();
        }
        Exp(fromState, L);
        float acc = 0f;
        for (int t = L - 1; t >= 0; t--) { w[t] = acc; acc += dA[t]; } // a(t, last]
        Exp(w, L);
        for (int t = 0; t < L; t++)
        {
            float scale = w[t] * dth[t];
            for (int i = 0; i < P; i++) wx[t * P + i] = x[t * P + i] * scale;
        }
        DecayMask(cb, dA, dth, m);

        float* hs = state + (long)h * p * n;
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < p; i++) st[j * P + i] = hs[i * n + j];
            new Span<float>(st + j * P + p, P - p).Clear();
        }

        var set = CpuKernels.Current;
        MicroKernel.Product(set, C(0, g), stride, L, n, st, P, P, yh, P, causal: false);
        for (int t = 0; t < L; t++) TensorPrimitives.Multiply(new Span<float>(yh + t * P, p), fromState[t], new Span<float>(yh + t * P, p));
        MicroKernel.Product(set, m, Lp, L, L, x, P, P, yh, P, causal: true);
        for (int t = 0; t < L; t++)
        {
            var yt = new Span<float>(y + (long)t * s.Inner + h * p, p);
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(x + t * P, p), d[h], new ReadOnlySpan<float>(yh + t * P, p), yt);
        }

        TensorPrimitives.Multiply(new Span<float>(st, n * P), MathF.Exp(total), new Span<float>(st, n * P));
        MicroKernel.Product(set, bt, Lp, n, L, wx, P, P, st, P, causal: false);
        for (int i = 0; i < p; i++)
            for (int j = 0; j < n; j++) hs[i * n + j] = st[j * P + i];
    }

    /// <summary><c>m[t, s] = exp(a(s, t]) · cb[t, s] · dt[s]</c> for s ≤ t, zero above the diagonal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DecayMask(float* cb, float* dA, float* dth, float* m)
    {
        for (int t = 0; t < L; t++)
        {
            float* row = m + t * Lp;
            float acc = 0f;
            for (int j = t; j >= 0; j--) { row[j] = acc; acc += dA[j]; } // a(j, t], summed pair by pair
            var span = new Span<float>(row, t + 1);
            TensorPrimitives.Exp(span, span);
            TensorPrimitives.Multiply(span, new ReadOnlySpan<float>(cb + t * Lp, t + 1), span);
            TensorPrimitives.Multiply(span, new ReadOnlySpan<float>(dth, t + 1), span);
            new Span<float>(row + t + 1, Lp - t - 1).Clear();
        }
    }

    private static void Exp(float* v, int length) => TensorPrimitives.Exp(new ReadOnlySpan<float>(v, length), new Span<float>(v, length));
}

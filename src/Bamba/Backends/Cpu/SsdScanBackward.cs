using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Gradient of <see cref="SsdScan.Run"/> for one run that starts from a zero state, through the exact sequential
/// recurrence (the chunked forward computes the same function): per head,
/// <c>S_t = α_t S_{t−1} + dt_t x_t ⊗ B_t</c> with <c>α_t = exp(dt_t·A)</c>, and <c>y_t = S_t·C_t + D x_t</c>.
/// The states are recomputed head by head (T+1 states of [HeadDim, StateSize]) and walked backwards.
/// </summary>
public static class SsdScanBackward
{
    /// <summary>Gradients of one run. <paramref name="dxbc"/> has the layout of xbc (x, B, C columns) and is written
    /// for this run's rows; <paramref name="ddt"/> [T, Heads] is written; <paramref name="dA"/>, <paramref name="dD"/> accumulate.</summary>
    public static void Run(SsdScan.Shape shape, float[] xbc, int xbcOffset, int stride, int steps, float[] dt, int dtOffset,
        float[] a, float[] d, float[] dy, int dyOffset, float[] dxbc, float[] ddt, float[] dA, float[] dD)
    {
        int n = shape.StateSize;
        var dB = new float[shape.Heads][];
        var dC = new float[shape.Heads][];
        Parallel.For(0, shape.Heads, h =>
        {
            dB[h] = new float[steps * n];
            dC[h] = new float[steps * n];
            Head(shape, h, xbc, xbcOffset, stride, steps, dt, dtOffset, a[h], d[h], dy, dyOffset, dxbc, ddt, dA, dD, dB[h], dC[h]);
        });
        // B and C are shared by the heads of a group: their gradients are the sums over those heads.
        for (int t = 0; t < steps; t++)
        {
            int row = xbcOffset + t * stride;
            for (int g = 0; g < shape.Groups; g++)
            {
                var bOut = dxbc.AsSpan(row + shape.Inner + g * n, n);
                var cOut = dxbc.AsSpan(row + shape.Inner + (shape.Groups + g) * n, n);
                bOut.Clear();
                cOut.Clear();
                for (int h = g * shape.HeadsPerGroup; h < (g + 1) * shape.HeadsPerGroup; h++)
                {
                    TensorPrimitives.Add(bOut, dB[h].AsSpan(t * n, n), bOut);
                    TensorPrimitives.Add(cOut, dC[h].AsSpan(t * n, n), cOut);
                }
            }
        }
    }

    private static void Head(SsdScan.Shape s, int h, float[] xbc, int xbcOffset, int stride, int steps, float[] dt, int dtOffset,
        float a, float d, float[] dy, int dyOffset, float[] dxbc, float[] ddt, float[] dA, float[] dD, float[] dB, float[] dC)
    {
        int p = s.HeadDim, n = s.StateSize, g = h / s.HeadsPerGroup, size = p * n;
        int xCol = h * p, bCol = s.Inner + g * n, cCol = s.Inner + (s.Groups + g) * n;
        ReadOnlySpan<float> X(int t) => xbc.AsSpan(xbcOffset + t * stride + xCol, p);
        ReadOnlySpan<float> B(int t) => xbc.AsSpan(xbcOffset + t * stride + bCol, n);
        ReadOnlySpan<float> C(int t) => xbc.AsSpan(xbcOffset + t * stride + cCol, n);
        float Dt(int t) => dt[dtOffset + t * s.Heads + h];

        var states = new float[(steps + 1) * size]; // states[t + 1] = S_t; states[0] = 0
        for (int t = 0; t < steps; t++)
        {
            var prev = states.AsSpan(t * size, size);
            var next = states.AsSpan((t + 1) * size, size);
            TensorPrimitives.Multiply(prev, MathF.Exp(Dt(t) * a), next);
            var x = X(t);
            for (int i = 0; i < p; i++) TensorPrimitives.MultiplyAdd(B(t), Dt(t) * x[i], next.Slice(i * n, n), next.Slice(i * n, n));
        }

        var dS = new float[size];
        var dSB = new float[p];
        float dAh = 0f, dDh = 0f;
        for (int t = steps - 1; t >= 0; t--)
        {
            var dyt = dy.AsSpan(dyOffset + t * s.Inner + xCol, p);
            var x = X(t);
            var bt = B(t);
            var st = states.AsSpan((t + 1) * size, size);
            var prev = states.AsSpan(t * size, size);
            var dx = dxbc.AsSpan(xbcOffset + t * stride + xCol, p);
            var dCt = dC.AsSpan(t * n, n);
            float step = Dt(t), alpha = MathF.Exp(step * a);
            dDh += TensorPrimitives.Dot(dyt, x);
            for (int i = 0; i < p; i++)
            {
                var dSi = dS.AsSpan(i * n, n);
                TensorPrimitives.MultiplyAdd(C(t), dyt[i], dSi, dSi);           // y_t = S_t·C_t
                TensorPrimitives.MultiplyAdd(st.Slice(i * n, n), dyt[i], dCt, dCt);
            }
            float dAlpha = TensorPrimitives.Dot(dS, prev);
            float dStep = 0f;
            var dBt = dB.AsSpan(t * n, n);
            for (int i = 0; i < p; i++)
            {
                var dSi = dS.AsSpan(i * n, n);
                dSB[i] = TensorPrimitives.Dot(dSi, bt);
                dStep += x[i] * dSB[i];
                TensorPrimitives.MultiplyAdd(dSi, step * x[i], dBt, dBt);
                dx[i] = d * dyt[i] + step * dSB[i];
            }
            dStep += dAlpha * alpha * a;
            dAh += dAlpha * alpha * step;
            ddt[dtOffset + t * s.Heads + h] = dStep;
            TensorPrimitives.Multiply(dS, alpha, dS);
        }
        dA[h] += dAh;
        dD[h] += dDh;
    }
}

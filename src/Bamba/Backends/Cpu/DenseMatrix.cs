using System.Numerics.Tensors;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Float32 matrix products for training, all routed through <see cref="Linear.Forward"/> (its blocked kernel):
/// <c>y = x·Wᵀ</c>, the input gradient <c>dx = dy·W</c> and the weight gradient <c>dW += dyᵀ·x</c>.
/// The last two transpose one operand first, which costs O(n·(m+k)) against the product's O(n·m·k).
/// </summary>
public static unsafe class DenseMatrix
{
    /// <summary><c>y[n, m] = x[n, k] · w[m, k]ᵀ (+ bias)</c>.</summary>
    public static void Forward(ReadOnlySpan<float> x, int n, ReadOnlySpan<float> w, int m, int k, ReadOnlySpan<float> bias, Span<float> y)
    {
        fixed (float* wp = w)
        {
            var info = new TensorInfo("dense", "", DType.F32, [m, k], 0, 4L * m * k);
            Linear.Forward(x, n, new WeightTensor(info, (byte*)wp), bias, y);
        }
    }

    /// <summary><c>dx[n, k] (+)= dy[n, m] · w[m, k]</c>.</summary>
    public static void InputGrad(ReadOnlySpan<float> dy, int n, ReadOnlySpan<float> w, int m, int k, Span<float> dx, bool accumulate)
    {
        var wt = Transpose(w, m, k);
        if (!accumulate) { Forward(dy, n, wt, k, m, [], dx); return; }
        var tmp = new float[n * k];
        Forward(dy, n, wt, k, m, [], tmp);
        TensorPrimitives.Add(dx[..tmp.Length], tmp, dx);
    }

    /// <summary><c>dw[m, k] += dy[n, m]ᵀ · x[n, k]</c>.</summary>
    public static void AccumulateWeightGrad(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, int n, int m, int k, Span<float> dw)
    {
        var dyT = Transpose(dy, n, m);
        var xT = Transpose(x, n, k);
        var tmp = new float[m * k];
        Forward(dyT, m, xT, k, n, [], tmp);
        TensorPrimitives.Add(dw[..tmp.Length], tmp, dw);
    }

    /// <summary><c>db[m] += Σ_i dy[i, m]</c>.</summary>
    public static void AccumulateBiasGrad(ReadOnlySpan<float> dy, int n, Span<float> db)
    {
        int m = db.Length;
        for (int i = 0; i < n; i++) TensorPrimitives.Add(db, dy.Slice(i * m, m), db);
    }

    public static float[] Transpose(ReadOnlySpan<float> a, int rows, int cols)
    {
        var t = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }
}

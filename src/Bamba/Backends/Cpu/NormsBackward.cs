using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Gradients of <see cref="Norms"/>. For <c>y = x·r·w</c> with <c>r = (mean(x²) + eps)^-½</c> and <c>x̂ = x·r</c>:
/// <c>dw += dy ⊙ x̂</c> and <c>dx = r·(dy⊙w − x̂·mean(dy⊙w⊙x̂))</c>.
/// </summary>
public static class NormsBackward
{
    /// <summary>Adds the input gradient to <paramref name="dx"/> and the weight gradient to <paramref name="dw"/>.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw)
    {
        int width = weight.Length;
        var scratch = new float[width];
        for (int r = 0; r < x.Length / width; r++)
            RmsNormRow(x.Slice(r * width, width), weight, eps, dy.Slice(r * width, width), dx.Slice(r * width, width), dw, scratch);
    }

    private static void RmsNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, float[] scratch)
    {
        int n = x.Length;
        float r = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / n + eps);
        var dxhat = scratch.AsSpan(0, n);
        TensorPrimitives.Multiply(dy, weight, dxhat);
        float meanDot = TensorPrimitives.Dot(dxhat, x) * r / n; // mean(dx̂ ⊙ x̂)
        for (int i = 0; i < n; i++)
        {
            float xhat = x[i] * r;
            dw[i] += dy[i] * xhat;
            dx[i] += r * (dxhat[i] - xhat * meanDot);
        }
    }

    /// <summary>
    /// Gradient of <see cref="Norms.GatedRmsNorm"/> (<c>rmsnorm(y · silu(z)) · weight</c> per group): writes
    /// <paramref name="dy"/> and <paramref name="dz"/>, adds the weight gradient to <paramref name="dw"/>.
    /// </summary>
    public static void GatedRmsNorm(ReadOnlySpan<float> y, ReadOnlySpan<float> z, ReadOnlySpan<float> weight, float eps, int groupSize,
        ReadOnlySpan<float> dOut, Span<float> dy, Span<float> dz, Span<float> dw)
    {
        int width = weight.Length;
        var gated = new float[width];
        var dGated = new float[width];
        var scratch = new float[groupSize];
        for (int r = 0; r < y.Length / width; r++)
        {
            var yr = y.Slice(r * width, width);
            var zr = z.Slice(r * width, width);
            for (int i = 0; i < width; i++) gated[i] = yr[i] * Activations.Silu(zr[i]);
            Array.Clear(dGated);
            for (int g = 0; g < width; g += groupSize)
                RmsNormRow(gated.AsSpan(g, groupSize), weight.Slice(g, groupSize), eps, dOut.Slice(r * width + g, groupSize),
                    dGated.AsSpan(g, groupSize), dw.Slice(g, groupSize), scratch);
            for (int i = 0; i < width; i++)
            {
                dy[r * width + i] = dGated[i] * Activations.Silu(zr[i]);
                dz[r * width + i] = dGated[i] * yr[i] * Activations.SiluDerivative(zr[i]);
            }
        }
    }
}

using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>RMSNorm as transformers computes it: float32, <c>x · rsqrt(mean(x²) + eps) · weight</c>.</summary>
public static class Norms
{
    /// <summary>Normalises each row of <paramref name="x"/> ([rows, width]) into <paramref name="y"/>.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int width = weight.Length;
        for (int r = 0; r < x.Length / width; r++)
            RmsNormRow(x.Slice(r * width, width), weight, eps, y.Slice(r * width, width));
    }

    public static void RmsNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        float meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        float scale = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>
    /// Mamba-2's gated norm: <c>rmsnorm(y · silu(z)) · weight</c> over groups of <paramref name="groupSize"/>
    /// channels of each row (transformers uses the full width: groupSize = width).
    /// </summary>
    public static void GatedRmsNorm(Span<float> y, ReadOnlySpan<float> z, ReadOnlySpan<float> weight, float eps, int groupSize)
    {
        int width = weight.Length;
        for (int r = 0; r < y.Length / width; r++)
        {
            var row = y.Slice(r * width, width);
            Activations.MultiplyBySilu(row, z.Slice(r * width, width));
            for (int g = 0; g < width; g += groupSize)
                RmsNormRow(row.Slice(g, groupSize), weight.Slice(g, groupSize), eps, row.Slice(g, groupSize));
        }
    }
}

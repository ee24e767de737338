namespace Bamba.Backends.Cpu;

/// <summary>Gradient of <see cref="CausalConv.Forward"/> for a run that starts with a zero window (a new sequence).</summary>
public static class CausalConvBackward
{
    /// <param name="input">[T, C] pre-conv inputs, row stride <paramref name="stride"/>.</param>
    /// <param name="dOut">[T, C] gradient of the conv output (before the activation).</param>
    /// <param name="dInput">[T, C] written, row stride <paramref name="stride"/>.</param>
    public static void Run(ReadOnlySpan<float> input, int stride, int steps, ReadOnlySpan<float> weight, int kernel,
        ReadOnlySpan<float> dOut, Span<float> dInput, Span<float> dWeight, Span<float> dBias)
    {
        int channels = weight.Length / kernel, history = kernel - 1;
        for (int t = 0; t < steps; t++) dInput.Slice(t * stride, channels).Clear();
        for (int t = 0; t < steps; t++)
        {
            var g = dOut.Slice(t * channels, channels);
            if (!dBias.IsEmpty)
                for (int c = 0; c < channels; c++) dBias[c] += g[c];
            for (int j = 0; j < kernel; j++)
            {
                int source = t - history + j;
                if (source < 0) continue; // the zero window contributes nothing
                var x = input.Slice(source * stride, channels);
                var dx = dInput.Slice(source * stride, channels);
                for (int c = 0; c < channels; c++)
                {
                    dWeight[c * kernel + j] += g[c] * x[c];
                    dx[c] += g[c] * weight[c * kernel + j];
                }
            }
        }
    }
}

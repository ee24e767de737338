using System.Numerics.Tensors;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Mamba's causal depthwise conv1d over time: <c>out[t, c] = bias[c] + Σ_j w[c, j] · in[t − (K−1) + j, c]</c>,
/// where inputs before the run come from a window of the K−1 previous inputs (zeros for a new sequence).
/// </summary>
public static class CausalConv
{
    /// <param name="input">[T, C] pre-conv values (x, B, C channels), row stride <paramref name="stride"/>.</param>
    /// <param name="window">[K−1, C] the previous inputs, oldest first; updated to the last K−1 inputs.</param>
    /// <param name="weight">[C, K] as conv1d.weight[C, 1, K] is stored.</param>
    /// <param name="output">[T, C] results, before the activation.</param>
    public static void Forward(ReadOnlySpan<float> input, int stride, int steps, Span<float> window,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int kernel, Span<float> output)
    {
        int channels = weight.Length / kernel, history = kernel - 1;
        var taps = TapsByPosition(weight, channels, kernel);
        for (int t = 0; t < steps; t++)
        {
            var outRow = output.Slice(t * channels, channels);
            if (bias.IsEmpty) outRow.Clear();
            else bias[..channels].CopyTo(outRow);
            for (int j = 0; j < kernel; j++)
            {
                int source = t - history + j; // index into the run; negative = from the window
                var v = source >= 0 ? input.Slice(source * stride, channels) : window.Slice((history + source) * channels, channels);
                TensorPrimitives.MultiplyAdd(v, taps.Slice(j * channels, channels), outRow, outRow);
            }
        }
        ShiftWindow(input, stride, steps, window, channels, history);
    }

    [ThreadStatic] private static float[]? _taps;

    /// <summary>
    /// The weights as [K, C] (tap j of every channel contiguous), so each step is K vector multiply-adds across the
    /// channels; a scalar loop per channel and step was 3 % of a prefill, on one core.
    /// </summary>
    private static ReadOnlySpan<float> TapsByPosition(ReadOnlySpan<float> weight, int channels, int kernel)
    {
        if (_taps is null || _taps.Length < weight.Length) _taps = new float[weight.Length];
        for (int c = 0; c < channels; c++)
            for (int j = 0; j < kernel; j++) _taps[j * channels + c] = weight[c * kernel + j];
        return _taps.AsSpan(0, channels * kernel);
    }

    /// <summary>Keeps the last K−1 inputs of window ++ run, in place (a decode step shifts it by one row).</summary>
    private static void ShiftWindow(ReadOnlySpan<float> input, int stride, int steps, Span<float> window, int channels, int history)
    {
        int kept = Math.Max(0, history - steps); // rows of the old window that stay, moved to the front
        if (kept > 0) window.Slice((history - kept) * channels, kept * channels).CopyTo(window); // overlapping: memmove
        for (int i = kept; i < history; i++)
            input.Slice((steps - history + i) * stride, channels).CopyTo(window.Slice(i * channels, channels));
    }
}

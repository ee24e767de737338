using System.Numerics.Tensors;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[i, r] = Σ_t x[i, t] · W[r, t] (+ bias[r])</c> for a few input rows over a block-quantized W (Q8_0, Q4_0,
/// Q4_K, Q5_K, Q6_K) or F8_E4M3 W with row scales, the weights staying quantized in memory: each row is read once,
/// expanded into a per-thread float row (value × scale for FP8) and dotted with every input row (<see cref="QuantDot"/>
/// fuses the two for one input row of Q8_0).
/// </summary>
internal static unsafe class QuantGemv
{
    private const int ChunkBytes = 256 << 10;

    [ThreadStatic] private static float[]? _row;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        long rowBytes = w.DType.ByteCount(k);
        int rowsPerChunk = (int)Math.Max(1, ChunkBytes / rowBytes);
        CpuWorkers.Run(new Work(x, n, w, m, k, rowBytes, bias, y, rowsPerChunk));
    }

    /// <summary>Row <paramref name="r"/> as float32: its blocks decoded, or its FP8 values times the row's scale.</summary>
    private static void Expand(WeightTensor w, int r, long rowBytes, Span<float> row)
    {
        var bytes = new ReadOnlySpan<byte>(w.Data + r * rowBytes, (int)rowBytes);
        if (w.DType == DType.F8_E4M3) Fp8E4M3.Dequantize(bytes, w.RowScales.Span[r], row);
        else BlockCodec.Dequantize(w.DType, bytes, row);
    }

    private sealed class Work(float* x, int n, WeightTensor w, int m, int k, long rowBytes, float* bias, float* y, int rowsPerChunk)
        : ChunkedWork((m + rowsPerChunk - 1) / rowsPerChunk)
    {
        protected override void RunChunk(int chunk)
        {
            int r0 = chunk * rowsPerChunk, r1 = Math.Min(m, r0 + rowsPerChunk);
            if (n == 1 && QuantDot.Supports(w.DType))
            {
                for (int r = r0; r < r1; r++) Store(0, r, QuantDot.Dot(w.DType, w.Data + r * rowBytes, x, k));
                return;
            }
            if (_row is null || _row.Length < k) _row = new float[k];
            var row = _row.AsSpan(0, k);
            for (int r = r0; r < r1; r++)
            {
                Expand(w, r, rowBytes, row);
                for (int i = 0; i < n; i++) Store(i, r, TensorPrimitives.Dot(row, new ReadOnlySpan<float>(x + (long)i * k, k)));
            }
        }

        private void Store(int i, int r, float dot) => y[(long)i * m + r] = dot + (bias is null ? 0f : bias[r]);
    }
}

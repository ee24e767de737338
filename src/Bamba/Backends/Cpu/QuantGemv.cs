using System.Numerics.Tensors;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[i, r] = Σ_t x[i, t] · W[r, t] (+ bias[r])</c> for a few input rows over a block-quantized W (Q8_0, Q4_0,
/// Q4_K, Q5_K, Q6_K) or F8_E4M3 W with row scales, the weights staying quantized in memory: each row is read once,
/// dotted in place with every input row, in integers: the K-quants against Q8_K activations (<see cref="KQuantDot"/>),
/// Q8_0 and Q4_0 against Q8_0 activations (<see cref="QuantDot"/>); FP8 rows are expanded into a per-thread float row
/// (value × scale) first.
/// </summary>
internal static unsafe class QuantGemv
{
    private const int ChunkBytes = 256 << 10;

    [ThreadStatic] private static float[]? _row;
    [ThreadStatic] private static sbyte[]? _q8;
    [ThreadStatic] private static float[]? _d8;

    /// <param name="x">The input rows as the caller has them: quantized here to Q8_K for the K-quants and to Q8_0 blocks
    /// for Q8_0 and Q4_0, as llama.cpp quantizes them.</param>
    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        long rowBytes = w.DType.ByteCount(k);
        int rowsPerChunk = (int)Math.Max(1, ChunkBytes / rowBytes);
        Q8KRow* q8 = stackalloc Q8KRow[n];
        if (KQuantDot.Supports(w.DType))
        {
            Q8KBuffers.Rent(n, k, q8);
            for (int i = 0; i < n; i++) Q8KRow.Quantize(x + (long)i * k, k, q8[i], CpuKernels.Current);
        }
        Q8_0Activations* blocks = stackalloc Q8_0Activations[n];
        if (QuantDot.Supports(w.DType))
        {
            sbyte* q = ThreadBuffers.Get(ref _q8, checked(n * k));
            float* d = ThreadBuffers.Get(ref _d8, checked(n * (k / 32)));
            for (int i = 0; i < n; i++)
            {
                blocks[i] = new Q8_0Activations(q + (long)i * k, d + (long)i * (k / 32));
                Q8_0Inputs.QuantizeSigned(x + (long)i * k, k, blocks[i].Q, blocks[i].D, CpuKernels.Current != CpuInstructionSet.Scalar);
            }
        }
        // q8 and blocks live on this frame until Run returns, which is after every chunk is done.
        CpuWorkers.Run(new Work(x, q8, blocks, n, w, m, k, rowBytes, bias, y, rowsPerChunk, CpuKernels.Current));
    }

    /// <summary>Row <paramref name="r"/> as float32: its blocks decoded, or its FP8 values times the row's scale.</summary>
    private static void Expand(WeightTensor w, int r, long rowBytes, Span<float> row)
    {
        var bytes = new ReadOnlySpan<byte>(w.Data + r * rowBytes, (int)rowBytes);
        if (w.DType == DType.F8_E4M3) Fp8E4M3.Dequantize(bytes, w.RowScales.Span[r], row);
        else BlockCodec.Dequantize(w.DType, bytes, row);
    }

    private sealed class Work(float* x, Q8KRow* q8, Q8_0Activations* blocks, int n, WeightTensor w, int m, int k, long rowBytes, float* bias, float* y,
        int rowsPerChunk, CpuInstructionSet set) : ChunkedWork((m + rowsPerChunk - 1) / rowsPerChunk)
    {
        protected override void RunChunk(int chunk)
        {
            int r0 = chunk * rowsPerChunk, r1 = Math.Min(m, r0 + rowsPerChunk);
            if (KQuantDot.Supports(w.DType))
            {
                for (int r = r0; r < r1; r++)
                    for (int i = 0; i < n; i++) Store(i, r, KQuantDot.Dot(w.DType, w.Data + r * rowBytes, q8[i], k, set));
                return;
            }
            if (QuantDot.Supports(w.DType))
            {
                for (int r = r0; r < r1; r++)
                    for (int i = 0; i < n; i++) Store(i, r, QuantDot.Dot(w.DType, w.Data + r * rowBytes, blocks[i], k, set));
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

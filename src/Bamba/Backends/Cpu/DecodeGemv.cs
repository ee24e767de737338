using System.Numerics.Tensors;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[i, r] = Σ_t x[i, t] · W[r, t] (+ bias[r])</c> for a few input rows (decode), on <see cref="CpuWorkers"/>:
/// each weight row streams from memory once, in row order within a chunk (one sequential stream per core, which the
/// prefetchers follow better than several interleaved rows). bf16 rows go through <see cref="BFloat16Dot"/>.
/// </summary>
internal static unsafe class DecodeGemv
{
    /// <summary>
    /// Weight bytes per chunk. Each chunk starts a new stream that the prefetchers must pick up again: on the 2-core
    /// EPYC VM all of a token's products took 46 ms with 16 KiB chunks, 31 with 64 KiB and 24 with 256 KiB (a plain
    /// read of the same bytes: 20). Larger chunks gained nothing and would leave one core idle on small matrices.
    /// </summary>
    private const int ChunkBytes = 256 << 10;

    [ThreadStatic] private static float[]? _permuted;
    [ThreadStatic] private static float[]? _widened;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        if (w.DType.IsQuantized() || w.DType == DType.F8_E4M3)
        {
            QuantGemv.Forward(x, n, w, bias, y);
            return;
        }
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        int rowsPerChunk = Math.Max(1, ChunkBytes / (w.DType.Size() * k));
        if (w.DType != DType.BF16)
        {
            CpuWorkers.Run(new Work(x, n, w.Data, w.DType, m, k, bias, y, rowsPerChunk));
            return;
        }
        // The caller's buffer outlives the call: Run returns only when every chunk is done.
        if (_permuted is null || _permuted.Length < n * k) _permuted = GC.AllocateArray<float>(n * k, pinned: true);
        fixed (float* permuted = _permuted)
        {
            for (int i = 0; i < n; i++) BFloat16Dot.PermuteInput(x + (long)i * k, permuted + (long)i * k, k);
            CpuWorkers.Run(new Work(permuted, n, w.Data, w.DType, m, k, bias, y, rowsPerChunk));
        }
    }

    /// <param name="x">The input rows: as given for float32/float16 weights, permuted by <see cref="BFloat16Dot.PermuteInput"/> for bf16.</param>
    private sealed class Work(float* x, int n, byte* w, DType dtype, int m, int k, float* bias, float* y, int rowsPerChunk)
        : ChunkedWork((m + rowsPerChunk - 1) / rowsPerChunk)
    {
        protected override void RunChunk(int chunk)
        {
            int r0 = chunk * rowsPerChunk, r1 = Math.Min(m, r0 + rowsPerChunk);
            if (dtype == DType.BF16)
                for (int r = r0; r < r1; r++)
                    for (int i = 0; i < n; i++) Store(i, r, BFloat16Dot.Dot((ushort*)w + (long)r * k, x + (long)i * k, k));
            else OtherRows(r0, r1);
        }

        /// <summary>float32 rows as stored; float16 rows widened one at a time into a per-thread buffer.</summary>
        private void OtherRows(int r0, int r1)
        {
            if (dtype != DType.F32 && (_widened is null || _widened.Length < k)) _widened = new float[k];
            for (int r = r0; r < r1; r++)
            {
                ReadOnlySpan<float> row = dtype == DType.F32 ? new ReadOnlySpan<float>((float*)w + (long)r * k, k) : Widen(r);
                for (int i = 0; i < n; i++) Store(i, r, TensorPrimitives.Dot(row, new ReadOnlySpan<float>(x + (long)i * k, k)));
            }
        }

        private ReadOnlySpan<float> Widen(int r)
        {
            var row = _widened.AsSpan(0, k);
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)w + (long)r * k, k), row);
            return row;
        }

        private void Store(int i, int r, float dot) => y[(long)i * m + r] = dot + (bias is null ? 0f : bias[r]);
    }
}

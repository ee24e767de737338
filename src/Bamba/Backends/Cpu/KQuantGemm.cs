using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ (+ bias)</c> for many input rows over a Q4_K, Q5_K or Q6_K W, in integers as
/// llama.cpp's CPU backend does it: the input rows are quantized to Q8_K once per call (the quantization decode
/// uses, <see cref="Q8KRow"/>), then each chunk of weight rows (<see cref="PrefillChunks"/>) is unpacked once
/// (<see cref="KQuantLevels"/>) and dotted with a block of input rows in register tiles (<see cref="KQuantTiles"/>),
/// on <see cref="CpuWorkers"/>. Widening the weights to float32 for the float GEMM instead left Q4_K_M's prefill at
/// 0.72× llama.cpp's. The scalar instruction set runs decode's scalar dot (<see cref="KQuantDot"/>) per pair, the
/// reference the tiles are tested against.
/// </summary>
internal static unsafe class KQuantGemm
{
    /// <summary>Per input row and group of 16 values: the Q8_K block scale times the group's sum, for the minimums.</summary>
    [ThreadStatic] private static float[]? _scaledSums;
    [ThreadStatic] private static float[]? _levels;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        var set = CpuKernels.Current;
        // The 512-bit tile needs AVX-512BW's byte multiply-add; without it the 256-bit one serves.
        if (set == CpuInstructionSet.Avx512 && !Avx512BW.IsSupported) set = CpuInstructionSet.Avx2;
        var inputs = Q8KBuffers.Rent(n, k);
        float* scaledSums = ThreadBuffers.Get(ref _scaledSums, checked(n * (k / 16)));
        // Both buffers are the caller's thread's: the workers use them only inside Run.
        CpuWorkers.Run(new Quantize(x, k, inputs, scaledSums, n, set));
        int tile = set switch { CpuInstructionSet.Avx512 => KQuantTiles.Columns512, CpuInstructionSet.Avx2 => KQuantTiles.Columns256, _ => 1 };
        CpuWorkers.Run(new Work(w, inputs, scaledSums, bias, y, k, PrefillChunks.For(n, m, rowBytes: k, tile), set));
    }

    /// <summary>Input row i to Q8_K, and its sums of 16 times the block scales.</summary>
    private sealed class Quantize(float* x, int k, Q8KRow inputs, float* scaledSums, int n, CpuInstructionSet set) : ChunkedWork(n)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected override void RunChunk(int i)
        {
            var row = inputs.Offset(i, k);
            Q8KRow.Quantize(x + (long)i * k, k, row, set);
            // The tiles meet the unpacked levels in their order; the scalar dot reads both in value order.
            if (set != CpuInstructionSet.Scalar)
                for (int b = 0; b < k; b += Q8KRow.Block) KQuantLevels.TileOrder((byte*)row.Q + b, set);
            float* sums = scaledSums + (long)i * (k / 16);
            for (int g = 0; g < k / 16; g++) sums[g] = row.D[g / 16] * row.Sums[g];
        }
    }

    /// <summary>A chunk: a block of weight rows × a block of input rows.</summary>
    private sealed class Work(WeightTensor w, Q8KRow inputs, float* scaledSums, float* bias, float* y, int k, PrefillChunks s, CpuInstructionSet set)
        : ChunkedWork(s.Count)
    {
        private readonly long _rowBytes = w.DType.ByteCount(k);
        private readonly int _span = KQuantLevels.VectorsPerScale(w.DType);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
        protected override void RunChunk(int chunk)
        {
            var (r0, rows, c0, cols) = s[chunk];
            if (set == CpuInstructionSet.Scalar)
            {
                for (int r = r0; r < r0 + rows; r++)
                    for (int c = c0; c < c0 + cols; c++)
                        Store(r, c, KQuantDot.Dot(w.DType, w.Data + r * _rowBytes, inputs.Offset(c, k), k, set));
                return;
            }
            int floats = KQuantLevels.Floats(k);
            float* scratch = ThreadBuffers.Get(ref _levels, PrefillChunks.RowBlock * floats);
            for (int r = 0; r < rows; r++) KQuantLevels.In(scratch + r * floats, k).Unpack(w.DType, w.Data + (r0 + r) * _rowBytes, k, set);
            for (int r = 0; r < rows; r += 2)
            {
                // An odd last row: the second weight row aliases the first and stores to the same place.
                int step = Math.Min(1, rows - 1 - r);
                KQuantLevels w0 = KQuantLevels.In(scratch + r * floats, k), w1 = KQuantLevels.In(scratch + (r + step) * floats, k);
                float bias0 = Bias(r0 + r), bias1 = Bias(r0 + r + step);
                float* sums = scaledSums + (long)c0 * (k / 16), at = y + (long)c0 * s.M + r0 + r;
                if (set == CpuInstructionSet.Avx512) KQuantTiles.Run512(w0, w1, step, bias0, bias1, inputs.Offset(c0, k), sums, cols, k, at, s.M, _span);
                else KQuantTiles.Run256(w0, w1, step, bias0, bias1, inputs.Offset(c0, k), sums, cols, k, at, s.M, _span);
            }
        }

        private float Bias(int r) => bias is null ? 0f : bias[r];

        private void Store(int r, int c, float dot) => y[(long)c * s.M + r] = dot + Bias(r);
    }
}

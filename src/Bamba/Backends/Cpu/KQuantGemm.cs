using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ (+ bias)</c> for many input rows over a Q4_K, Q5_K or Q6_K W, in integers as
/// llama.cpp's CPU backend does it: the input rows are quantized to Q8_K once per call (the quantization decode
/// uses, <see cref="Q8KRow"/>), then each chunk of weight rows (<see cref="PrefillChunks"/>) is unpacked 8 rows at a
/// time (<see cref="KQuantRows8"/>) and dotted with a block of input rows in register tiles (<see cref="KQuantTiles"/>),
/// on <see cref="CpuWorkers"/>. Widening the weights to float32 for the float GEMM instead left Q4_K_M's prefill at
/// 0.72× llama.cpp's. The scalar instruction set runs decode's scalar dot (<see cref="KQuantDot"/>) per pair, the
/// reference the tiles are tested against.
/// </summary>
internal static unsafe class KQuantGemm
{
    /// <summary>Per input row and group (<see cref="KQuantRows8.Groups"/>): the Q8_K block scale times the group's sum, for
    /// the minimums, side by side with the other rows of its tile of 8.</summary>
    [ThreadStatic] private static float[]? _scaledSums;
    /// <summary>Per input row and block: the Q8_K block scale, side by side with the other rows of its tile of 8.</summary>
    [ThreadStatic] private static float[]? _scales;
    [ThreadStatic] private static float[]? _levels;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        var set = CpuKernels.Current;
        // The 512-bit tile needs AVX-512BW's byte multiply-add; without it the 256-bit one serves.
        if (set == CpuInstructionSet.Avx512 && !Avx512BW.IsSupported) set = CpuInstructionSet.Avx2;
        var inputs = Q8KBuffers.Rent(n, k);
        int groups = KQuantRows8.Groups(w.DType), blocks = k / Q8KRow.Block, tiles = (n + 7) / 8;
        float* scales = ThreadBuffers.Get(ref _scales, checked(tiles * 8 * blocks));
        float* sums = ThreadBuffers.Get(ref _scaledSums, checked(tiles * 8 * blocks * groups));
        // The slots of a last, partial tile of 8 are computed with but never stored: zero, not stale.
        new Span<float>(scales + (long)n * blocks, (tiles * 8 - n) * blocks).Clear();
        new Span<float>(sums + (long)n * blocks * groups, (tiles * 8 - n) * blocks * groups).Clear();
        // The buffers are the caller's thread's: the workers use them only inside Run.
        CpuWorkers.Run(new Quantize(x, k, inputs, scales, sums, groups, n, set));
        int tile = set switch { CpuInstructionSet.Avx512 => KQuantTiles.Columns512, CpuInstructionSet.Avx2 => KQuantTiles.Columns256, _ => 1 };
        CpuWorkers.Run(new Work(w, inputs, scales, sums, groups, bias, y, k, PrefillChunks.For(n, m, rowBytes: k, tile), set));
    }

    /// <summary>
    /// Input row i to Q8_K, its block scales, and per group of the weight type (<see cref="KQuantRows8.Groups"/>) its sum
    /// times the block scale, both side by side with the other rows of its tile of 8 (<see cref="KQuantTiles.Slot"/>).
    /// </summary>
    private sealed class Quantize(float* x, int k, Q8KRow inputs, float* scales, float* scaledSums, int groups, int n, CpuInstructionSet set)
        : ChunkedWork(n)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected override void RunChunk(int i)
        {
            var row = inputs.Offset(i, k);
            Q8KRow.Quantize(x + (long)i * k, k, row, set);
            int blocks = k / Q8KRow.Block, per = Q8KRow.SumsPerBlock / groups; // sums of 16 in a group: 2 or 1 (Q6_K)
            for (int b = 0; b < blocks; b++) scales[KQuantTiles.Slot(i, b, blocks)] = row.D[b];
            for (int g = 0; g < blocks * groups; g++)
            {
                int sum = 0;
                for (int j = 0; j < per; j++) sum += row.Sums[per * g + j];
                scaledSums[KQuantTiles.Slot(i, g, blocks * groups)] = row.D[g / groups] * sum;
            }
        }
    }

    /// <summary>A chunk: a block of weight rows × a block of input rows.</summary>
    private sealed class Work(WeightTensor w, Q8KRow inputs, float* scales, float* scaledSums, int groups, float* bias, float* y, int k,
        PrefillChunks s, CpuInstructionSet set)
        : ChunkedWork(s.Count)
    {
        private readonly long _rowBytes = w.DType.ByteCount(k);

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
            int floats = KQuantRows8.Floats(w.DType, k);
            float* scratch = ThreadBuffers.Get(ref _levels, 2 * floats);
            KQuantRows8 a = KQuantRows8.In(scratch, w.DType, k), b = KQuantRows8.In(scratch + floats, w.DType, k);
            int rowsA = Math.Min(KQuantRows8.Rows, rows), rowsB = rows - rowsA;
            a.Unpack(w.DType, w.Data + r0 * _rowBytes, _rowBytes, rowsA, k);
            if (rowsB > 0) b.Unpack(w.DType, w.Data + (r0 + rowsA) * _rowBytes, _rowBytes, rowsB, k);
            float* at = y + (long)c0 * s.M + r0, biasAt = bias is null ? null : bias + r0;
            if (set == CpuInstructionSet.Avx512)
                // A chunk of 8 rows or fewer computes its second half over the first again and stores none of it.
                KQuantTiles.Run512(a, rowsA, rowsB > 0 ? b : a, rowsB, biasAt, inputs, scales, scaledSums, groups, c0, cols, k, at, s.M);
            else
            {
                KQuantTiles.Run256(a, rowsA, biasAt, inputs, scales, scaledSums, groups, c0, cols, k, at, s.M);
                if (rowsB > 0)
                    KQuantTiles.Run256(b, rowsB, biasAt is null ? null : biasAt + 8, inputs, scales, scaledSums, groups, c0, cols, k, at + 8, s.M);
            }
        }

        private float Bias(int r) => bias is null ? 0f : bias[r];

        private void Store(int r, int c, float dot) => y[(long)c * s.M + r] = dot + Bias(r);
    }
}

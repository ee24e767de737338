using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ (+ bias)</c> for many input rows (prefill, training), blocked for the caches and
/// run on <see cref="CpuWorkers"/>. A chunk is one panel of weight rows (two vectors wide) × one block of input rows:
/// it packs the panel as float32 (<see cref="WeightPanel"/>), then walks k in slices of <see cref="Depth"/> steps, each
/// slice of the panel staying in L1 while every 6-row tile of the block passes over it (<see cref="MicroKernel"/>).
/// Sums build up in a per-thread tile buffer that is copied into y at the end. No allocation per call beyond the work
/// item: the panel and tile buffers are per thread and grow only.
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>Steps per pass over a panel slice: 256 × 32 floats = 32 KiB, inside a 48 KiB L1 beside six input rows.</summary>
    private const int Depth = 256;
    /// <summary>Most input rows per block: 192 rows × <see cref="Depth"/> floats (192 KiB) stay in L2 across panels.</summary>
    private const int MaxRowBlock = 192;

    [ThreadStatic] private static float[]? _panel;
    [ThreadStatic] private static float[]? _tile;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        var set = CpuKernels.Current;
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        var shape = new Shape(n, m, k, RowBlock(n));
        switch (set)
        {
            case CpuInstructionSet.Avx512: CpuWorkers.Run(new Work<Lanes512, Vector512<float>>(x, w, bias, y, shape, set)); break;
            case CpuInstructionSet.Avx2: CpuWorkers.Run(new Work<Lanes256, Vector256<float>>(x, w, bias, y, shape, set)); break;
            default: CpuWorkers.Run(new Work<Lanes1, float>(x, w, bias, y, shape, set)); break;
        }
    }

    /// <summary>Rows per block: blocks of equal size, a multiple of the tile's rows (no short tile inside), at most <see cref="MaxRowBlock"/>.</summary>
    private static int RowBlock(int n)
    {
        int blocks = (n + MaxRowBlock - 1) / MaxRowBlock;
        int rows = (n + blocks - 1) / blocks;
        return (rows + MicroKernel.Rows - 1) / MicroKernel.Rows * MicroKernel.Rows;
    }

    private readonly record struct Shape(int N, int M, int K, int RowBlock);

    private sealed class Work<TL, TV>(float* x, WeightTensor w, float* bias, float* y, Shape s, CpuInstructionSet set)
        : ChunkedWork(Panels(s.M) * ((s.N + s.RowBlock - 1) / s.RowBlock))
        where TL : ILanes<TV> where TV : struct
    {
        private static int Width => 2 * TL.Count;
        private static int Panels(int m) => (m + Width - 1) / Width;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected override void RunChunk(int chunk)
        {
            int panels = Panels(s.M), width = Width, k = s.K;
            int r0 = chunk % panels * width, cols = Math.Min(width, s.M - r0);
            int i0 = chunk / panels * s.RowBlock, rows = Math.Min(s.RowBlock, s.N - i0);
            float* panel = ThreadBuffers.Get(ref _panel, k * width), tile = ThreadBuffers.Get(ref _tile, s.RowBlock * width);
            WeightPanel.Pack(w, k, r0, cols, width, panel, set);
            for (int a = 0; a < rows; a++)
                for (int j = 0; j < width; j++) tile[a * width + j] = bias is null || j >= cols ? 0f : bias[r0 + j];
            for (int t0 = 0; t0 < k; t0 += Depth)
                MicroKernel.Product<TL, TV>(x + (long)i0 * k + t0, k, rows, Math.Min(Depth, k - t0), panel + (long)t0 * width, width, width, tile, width);
            for (int a = 0; a < rows; a++)
                new ReadOnlySpan<float>(tile + a * width, cols).CopyTo(new Span<float>(y + (long)(i0 + a) * s.M + r0, cols));
        }
    }
}

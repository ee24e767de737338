using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ (+ bias)</c> for many input rows (prefill, training), blocked for the caches and
/// run on <see cref="CpuWorkers"/>, computed as its transpose <c>yᵀ = W · xᵀ</c>: the weight rows are the broadcast
/// operand of <see cref="MicroKernel"/> and the inputs, packed once per call as panels of 32 rows transposed
/// (<c>panel[t, i] = x[i0 + i, t]</c>), its vector operand. So the weights are only widened to float32, in the order
/// they are stored (contiguous reads, whatever the dtype), never transposed: an n-row prefill transposes n·k input
/// values instead of m·k weights (packing W into column panels was a quarter of a bf16 prefill).
/// A chunk is <see cref="PanelRows"/> weight rows × one block of input rows. It walks k in slices of
/// <see cref="Depth"/> steps: it widens the slice of its weight rows, then for each 32-column input panel (which stays
/// in L1 meanwhile) every 6-row tile of the weights passes over it. Sums build up in a per-thread tile, transposed into
/// y at the end. No allocation per call: the panels, rows and tiles are per-thread buffers that grow only.
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>Steps per slice: a 32-column input panel slice is 256 × 32 floats = 32 KiB, in a 48 KiB L1.</summary>
    private const int Depth = 256;
    /// <summary>Weight rows per chunk: eight 6-row tiles over each input panel slice.</summary>
    private const int PanelRows = 48;
    /// <summary>Input rows (padded to whole panels) per chunk at most: 192 × 256 floats of panels stay in L2.</summary>
    private const int MaxColumnBlock = 192;
    private const int PanelWidth = MicroKernel.ColumnMultiple;

    [ThreadStatic] private static float[]? _inputs;
    [ThreadStatic] private static float[]? _rows;
    [ThreadStatic] private static float[]? _tile;

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        var set = CpuKernels.Current;
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        int panels = (n + PanelWidth - 1) / PanelWidth;
        float* inputs = ThreadBuffers.Get(ref _inputs, checked(panels * PanelWidth * k)); // the caller's: workers read it during Run
        for (int p = 0; p < panels; p++) PackInputs(x, n, k, p, inputs + (long)p * PanelWidth * k, set);
        var shape = new Shape(n, m, k, panels * PanelWidth, ColumnBlock(panels * PanelWidth));
        switch (set)
        {
            case CpuInstructionSet.Avx512: CpuWorkers.Run(new Work<Lanes512, Vector512<float>>(inputs, w, bias, y, shape, set)); break;
            case CpuInstructionSet.Avx2: CpuWorkers.Run(new Work<Lanes256, Vector256<float>>(inputs, w, bias, y, shape, set)); break;
            default: CpuWorkers.Run(new Work<Lanes1, float>(inputs, w, bias, y, shape, set)); break;
        }
    }

    /// <summary>Input rows [32p, 32p + 32) transposed into <paramref name="panel"/> [k, 32], zero past row n.</summary>
    private static void PackInputs(float* x, int n, int k, int p, float* panel, CpuInstructionSet set)
    {
        int i0 = p * PanelWidth, rows = Math.Min(PanelWidth, n - i0);
        Transpose.Block(x + (long)i0 * k, k, rows, k, panel, PanelWidth, set);
        if (rows < PanelWidth)
            for (int t = 0; t < k; t++) new Span<float>(panel + (long)t * PanelWidth + rows, PanelWidth - rows).Clear();
    }

    /// <summary>Input columns per block: blocks of equal size in whole panels, at most <see cref="MaxColumnBlock"/>.</summary>
    private static int ColumnBlock(int columns)
    {
        int blocks = (columns + MaxColumnBlock - 1) / MaxColumnBlock;
        int perBlock = (columns + blocks - 1) / blocks;
        return (perBlock + PanelWidth - 1) / PanelWidth * PanelWidth;
    }

    /// <param name="Columns">n rounded up to whole panels.</param>
    private readonly record struct Shape(int N, int M, int K, int Columns, int ColumnBlock);

    private sealed class Work<TL, TV>(float* inputs, WeightTensor w, float* bias, float* y, Shape s, CpuInstructionSet set)
        : ChunkedWork(RowPanels(s.M) * ((s.Columns + s.ColumnBlock - 1) / s.ColumnBlock))
        where TL : ILanes<TV> where TV : struct
    {
        private static int RowPanels(int m) => (m + PanelRows - 1) / PanelRows;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected override void RunChunk(int chunk)
        {
            int k = s.K, depth = Depth, panelRows = RowPanels(s.M);
            int r0 = chunk % panelRows * PanelRows, rows = Math.Min(PanelRows, s.M - r0);
            int c0 = chunk / panelRows * s.ColumnBlock, cols = Math.Min(s.ColumnBlock, s.Columns - c0);
            float* weights = ThreadBuffers.Get(ref _rows, PanelRows * depth), tile = ThreadBuffers.Get(ref _tile, PanelRows * s.ColumnBlock);
            for (int r = 0; r < rows; r++) new Span<float>(tile + r * cols, cols).Fill(bias is null ? 0f : bias[r0 + r]);
            for (int t0 = 0; t0 < k; t0 += depth)
            {
                int steps = Math.Min(depth, k - t0);
                WeightRows.Widen(w, k, r0, rows, t0, steps, weights);
                if (t0 + depth < k) WeightRows.Prefetch(w.Data, w.DType, k, r0, rows, t0 + depth, Math.Min(depth, k - t0 - depth));
                for (int j = 0; j < cols; j += PanelWidth)
                    MicroKernel.Product<TL, TV>(weights, steps, rows, steps, inputs + (long)(c0 + j) * k + (long)t0 * PanelWidth, PanelWidth,
                        PanelWidth, tile + j, cols);
            }
            Transpose.Block(tile, cols, rows, Math.Min(cols, s.N - c0), y + (long)c0 * s.M + r0, s.M, set);
        }
    }
}

using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Attention of many new queries (prefill) as matrix products on <see cref="MicroKernel"/>: per head and block of
/// <see cref="QueryBlock"/> queries, <c>S = Q · Kᵀ</c>, a masked softmax per row, <c>O = P · V</c>. One kv head at a
/// time, its keys are transposed and its values padded ([HeadDim, L'] and [L, D']) for the work items of its query
/// heads; each item's scores and output sit in per-thread buffers.
/// </summary>
internal readonly unsafe struct AttentionBlocks(AttentionKernel.Shape shape, float* q, int steps, float* keys, float* values,
    bool* padding, int cached, float* output)
{
    private const int QueryBlock = 32;

    [ThreadStatic] private static float[]? _shared;
    [ThreadStatic] private static float[]? _scratch;

    private static int Pad(int n) => (n + MicroKernel.ColumnMultiple - 1) / MicroKernel.ColumnMultiple * MicroKernel.ColumnMultiple;
    private int Lp => Pad(cached);
    private int Dp => Pad(shape.HeadDim);
    private int KeysFloats => shape.HeadDim * Lp;
    private int ValuesFloats => cached * Dp;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run()
    {
        int d = shape.HeadDim, group = shape.Heads / shape.KvHeads, blocks = (steps + QueryBlock - 1) / QueryBlock;
        float* kt = ThreadBuffers.Get(ref _shared, KeysFloats + ValuesFloats), vp = kt + KeysFloats;
        for (int kvh = 0; kvh < shape.KvHeads; kvh++)
        {
            new Span<float>(kt, KeysFloats + ValuesFloats).Clear();
            for (int j = 0; j < cached; j++)
            {
                float* key = keys + (long)j * shape.KvWidth + kvh * d;
                for (int i = 0; i < d; i++) kt[i * Lp + j] = key[i];
                new ReadOnlySpan<float>(values + (long)j * shape.KvWidth + kvh * d, d).CopyTo(new Span<float>(vp + j * Dp, d));
            }
            CpuWorkers.Run(new Items(this, kvh * group, group, blocks, kt));
        }
    }

    /// <summary>The (query head, query block) pairs of one kv head's <paramref name="heads"/> query heads.</summary>
    private sealed class Items(AttentionBlocks attention, int firstHead, int heads, int blocks, float* kt) : ChunkedWork(heads * blocks)
    {
        protected override void RunChunk(int item) => attention.Block(firstHead + item / blocks, item % blocks * QueryBlock, kt);
    }

    /// <summary>Queries [t0, t0 + QueryBlock) of head h.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Block(int h, int t0, float* kt)
    {
        int d = shape.HeadDim, rows = Math.Min(QueryBlock, steps - t0);
        int visibleMax = cached - steps + t0 + rows, columns = Pad(visibleMax);
        float* vp = kt + KeysFloats;
        float* scores = ThreadBuffers.Get(ref _scratch, rows * columns + rows * Dp), o = scores + rows * columns;
        new Span<float>(scores, rows * columns + rows * Dp).Clear();
        var set = CpuKernels.Current;
        MicroKernel.Product(set, q + (long)t0 * shape.QueryWidth + h * d, shape.QueryWidth, rows, d, kt, Lp, columns, scores, columns, causal: false);
        float scale = shape.SoftmaxScale;
        for (int r = 0; r < rows; r++) Softmax(new Span<float>(scores + r * columns, columns), cached - steps + t0 + r + 1, scale);
        MicroKernel.Product(set, scores, columns, rows, visibleMax, vp, Dp, Dp, o, Dp, causal: false);
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(o + r * Dp, d).CopyTo(new Span<float>(output + (long)(t0 + r) * shape.QueryWidth + h * d, d));
    }

    /// <summary>The row's weights over its first <paramref name="visible"/> keys, padding keys and the rest zero; all zero if none is attended.</summary>
    private void Softmax(Span<float> row, int visible, float scale)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < visible; j++)
        {
            row[j] = padding[j] ? float.NegativeInfinity : row[j] * scale;
            max = MathF.Max(max, row[j]);
        }
        row[visible..].Clear();
        if (float.IsNegativeInfinity(max)) { row.Clear(); return; } // a padding query with nothing to attend to
        var live = row[..visible];
        TensorPrimitives.Subtract(live, max, live);
        TensorPrimitives.Exp(live, live); // exp(−∞) = 0 for padding keys
        TensorPrimitives.Multiply(live, 1f / TensorPrimitives.Sum(live), live);
    }
}

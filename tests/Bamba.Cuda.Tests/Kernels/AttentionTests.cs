using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>RoPE, the KV append and the flash-style attention against Rope and AttentionKernel.</summary>
public class AttentionTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 64, 32, false)]
    [InlineData(CudaPrecision.Float32, 128, 64, false)]
    [InlineData(CudaPrecision.Float32, 16, 8, true)]
    [InlineData(CudaPrecision.BFloat16, 128, 64, true)]
    public void RopeMatchesCpu(CudaPrecision precision, int headDim, int rotaryDim, bool bf16Frequencies)
    {
        var ops = Gpu.Ops(precision);
        int rows = 6, heads = 5, stride = heads * headDim + 20;
        var rope = new Rope(10000, rotaryDim, bf16Frequencies);
        var x = Gpu.Rounded(ops, Gpu.Random(70, rows * stride, 2f));
        int[] positions = [-1, 0, 1, 7, 300, 4095];
        var expected = (float[])x.Clone();
        for (int r = 0; r < rows; r++)
            if (positions[r] >= 0)
                for (int h = 0; h < heads; h++) rope.Apply(expected.AsSpan(r * stride + h * headDim, headDim), positions[r]);

        using var xd = Gpu.Act(ops, x);
        using var pd = Gpu.I32(positions);
        using var fd = Gpu.F32(rope.InverseFrequencies.ToArray());
        ops.Rope(xd.Pointer, stride, pd.Pointer, fd.Pointer, rows, heads, headDim, rotaryDim);

        Close.Assert(expected, Gpu.ReadAct(ops, xd.Pointer, x.Length), Close.For(ops, 1e-5), "rope");
    }

    public static TheoryData<CudaPrecision, int, int, int, int, int, int> Cases() => new()
    {
        // precision, heads, kv heads, head dim, cached before, run length, padded keys at the start
        { CudaPrecision.Float32, 4, 2, 16, 0, 20, 0 },      // prefill of a new sequence
        { CudaPrecision.Float32, 4, 2, 16, 0, 20, 5 },      // left-padded prefill
        { CudaPrecision.Float32, 8, 2, 128, 299, 1, 3 },    // decode over a long cache
        { CudaPrecision.Float32, 32, 8, 128, 63, 37, 0 },   // a second prefill chunk over a cache
        { CudaPrecision.Float32, 6, 6, 80, 10, 70, 0 },     // head dim not a multiple of 32, no GQA
        { CudaPrecision.BFloat16, 8, 2, 128, 100, 33, 0 },
        { CudaPrecision.Float32, 4, 2, 64, 99, 1, 40 },     // split decode whose first key ranges are all padding
        { CudaPrecision.Float32, 4, 4, 16, 40, 1, 0 },      // below the split threshold: the one-warp kernel
        { CudaPrecision.BFloat16, 32, 8, 128, 1087, 1, 0 }, // split decode over a long cache
        { CudaPrecision.Float32, 2, 1, 16, 9000, 1, 0 },    // split decode into ~260 ranges: the combine walks them in chunks
        { CudaPrecision.Float32, 4, 2, 64, 0, 300, 7 },     // tiled prefill: several query and key tiles, left padding
        { CudaPrecision.Float32, 8, 8, 32, 20, 50, 3 },     // tiled, a chunk after a cached one
        { CudaPrecision.BFloat16, 32, 8, 128, 0, 100, 0 },  // tensor cores (bf16, head dim 128): Bamba's head shape
        { CudaPrecision.BFloat16, 4, 1, 128, 70, 150, 9 },  // tensor cores: after a cached chunk, left padding, several tiles
        { CudaPrecision.Float32, 4, 2, 128, 0, 90, 0 },     // the same shape in fp32: the tiled CUDA-core kernel
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttentionOverTheCacheMatchesCpu(CudaPrecision precision, int heads, int kvHeads, int headDim, int before, int steps, int padded)
    {
        var ops = Gpu.Ops(precision);
        var shape = new AttentionKernel.Shape(heads, kvHeads, headDim);
        int cached = before + steps, qkvWidth = shape.QueryWidth + 2 * shape.KvWidth;
        var oldKeys = Gpu.Rounded(ops, Gpu.Random(80, before * shape.KvWidth));
        var oldValues = Gpu.Rounded(ops, Gpu.Random(81, before * shape.KvWidth));
        var qkv = Gpu.Rounded(ops, Gpu.Random(82, steps * qkvWidth, 1.5f));
        var padding = Enumerable.Range(0, cached).Select(j => j < padded).ToArray();

        var q = new float[steps * shape.QueryWidth];
        var keys = new float[cached * shape.KvWidth];
        var values = new float[cached * shape.KvWidth];
        oldKeys.CopyTo(keys, 0);
        oldValues.CopyTo(values, 0);
        for (int t = 0; t < steps; t++)
        {
            qkv.AsSpan(t * qkvWidth, shape.QueryWidth).CopyTo(q.AsSpan(t * shape.QueryWidth));
            qkv.AsSpan(t * qkvWidth + shape.QueryWidth, shape.KvWidth).CopyTo(keys.AsSpan((before + t) * shape.KvWidth));
            qkv.AsSpan(t * qkvWidth + shape.QueryWidth + shape.KvWidth, shape.KvWidth).CopyTo(values.AsSpan((before + t) * shape.KvWidth));
        }
        var expected = new float[steps * shape.QueryWidth];
        AttentionKernel.Forward(shape, q, steps, keys, values, padding, expected);

        // Sequence 0 of a pool shared with two others, its blocks scattered among theirs.
        using var cache = new PagedCache(ops, kvHeads, headDim, [cached + 5, 150, 70], seed: 83);
        for (int j = 0; j < before; j++)
            cache.Set(0, j, oldKeys.AsSpan(j * shape.KvWidth, shape.KvWidth), oldValues.AsSpan(j * shape.KvWidth, shape.KvWidth), padding[j]);
        cache.Upload();
        using var qkvd = Gpu.Act(ops, qkv);
        using var positions = Gpu.I32(Enumerable.Range(before, steps).Select(j => padding[j] ? -1 : j).ToArray());
        using var outd = ops.Device.Allocate(expected.Length * ops.ActBytes);
        ops.KvAppend(qkvd.Pointer, qkvWidth, shape.QueryWidth, shape.QueryWidth + shape.KvWidth, cache.Pages, cache.Table(0), positions.Pointer,
            before, steps, kvHeads, headDim);
        ops.Attention(qkvd.Pointer, qkvWidth, cache.Pages, cache.Table(0), outd.Pointer, shape.QueryWidth, steps, cached, heads, kvHeads, headDim);

        var (storedKeys, storedValues, storedPadding) = cache.Read(0, cached);
        Assert.Equal(keys, storedKeys);
        Assert.Equal(values, storedValues);
        Assert.Equal(padding.Select(p => (byte)(p ? 1 : 0)), storedPadding);
        Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, expected.Length), Close.For(ops), "attention");
    }

    public static TheoryData<CudaPrecision, int, int, int> ChunkShapes() => new()
    {
        { CudaPrecision.Float32, 4, 2, 64 },   // one-warp, split and tiled kernels by chunk length
        { CudaPrecision.BFloat16, 32, 8, 128 }, // Bamba's heads: the tensor-core prefill
    };

    /// <summary>
    /// Three prompts fed in turn, in chunks that cross block boundaries (and one-token chunks), into one pool whose
    /// blocks they took interleaved: after every chunk, its attention output equals the CPU's over the prefix so far.
    /// </summary>
    [Theory]
    [MemberData(nameof(ChunkShapes))]
    public void ChunkedPromptsOfInterleavedSequencesMatchCpu(CudaPrecision precision, int heads, int kvHeads, int headDim)
    {
        var ops = Gpu.Ops(precision);
        var shape = new AttentionKernel.Shape(heads, kvHeads, headDim);
        int kv = shape.KvWidth, qkvWidth = shape.QueryWidth + 2 * kv;
        int[][] chunks = [[50, 70, 1, 100], [64, 64, 3, 1], [1, 130, 40, 65]];
        using var cache = new PagedCache(ops, kvHeads, headDim, chunks.Select(c => c.Sum()).ToArray(), seed: 84);
        cache.Upload();
        var keys = chunks.Select(c => new float[c.Sum() * kv]).ToArray();
        var values = chunks.Select(c => new float[c.Sum() * kv]).ToArray();
        var cached = new int[chunks.Length];
        for (int round = 0, seed = 85; round < chunks[0].Length; round++)
            for (int s = 0; s < chunks.Length; s++, seed++)
            {
                int steps = chunks[s][round], before = cached[s];
                var qkv = Gpu.Rounded(ops, Gpu.Random(seed, steps * qkvWidth, 1.5f));
                var q = new float[steps * shape.QueryWidth];
                for (int t = 0; t < steps; t++)
                {
                    qkv.AsSpan(t * qkvWidth, shape.QueryWidth).CopyTo(q.AsSpan(t * shape.QueryWidth));
                    qkv.AsSpan(t * qkvWidth + shape.QueryWidth, kv).CopyTo(keys[s].AsSpan((before + t) * kv));
                    qkv.AsSpan(t * qkvWidth + shape.QueryWidth + kv, kv).CopyTo(values[s].AsSpan((before + t) * kv));
                }
                cached[s] += steps;
                var expected = new float[steps * shape.QueryWidth];
                AttentionKernel.Forward(shape, q, steps, keys[s].AsSpan(0, cached[s] * kv).ToArray(), values[s].AsSpan(0, cached[s] * kv).ToArray(),
                    new bool[cached[s]], expected);

                using var qkvd = Gpu.Act(ops, qkv);
                using var positions = Gpu.I32(Enumerable.Range(before, steps).ToArray());
                using var outd = ops.Device.Allocate(expected.Length * ops.ActBytes);
                ops.KvAppend(qkvd.Pointer, qkvWidth, shape.QueryWidth, shape.QueryWidth + kv, cache.Pages, cache.Table(s), positions.Pointer, before, steps, kvHeads, headDim);
                ops.Attention(qkvd.Pointer, qkvWidth, cache.Pages, cache.Table(s), outd.Pointer, shape.QueryWidth, steps, cached[s], heads, kvHeads, headDim);
                Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, expected.Length), Close.For(ops), $"sequence {s}, chunk {round} ({steps} tokens)");
            }
        for (int s = 0; s < chunks.Length; s++) Assert.Equal(keys[s], cache.Read(s, cached[s]).Keys);
    }
}

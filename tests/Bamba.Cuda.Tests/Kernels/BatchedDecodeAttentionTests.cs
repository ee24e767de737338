using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// The batched decode path (every sequence's append and attention in one launch each, through block tables into one
/// pool) against AttentionKernel, sequence by sequence.
/// </summary>
public class BatchedDecodeAttentionTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 8, 2, 64)]
    [InlineData(CudaPrecision.Float32, 6, 6, 16)]
    [InlineData(CudaPrecision.Float32, 12, 4, 80)]   // 3 heads a group (kernel for 4), 10 of 16 lanes a row with dims
    [InlineData(CudaPrecision.BFloat16, 32, 8, 128)]
    [InlineData(CudaPrecision.BFloat16, 16, 2, 128)]
    [InlineData(CudaPrecision.BFloat16, 4, 4, 256)]  // a whole warp per key row
    public void EachSequenceMatchesCpu(CudaPrecision precision, int heads, int kvHeads, int headDim)
    {
        var ops = Gpu.Ops(precision);
        var shape = new AttentionKernel.Shape(heads, kvHeads, headDim);
        int[] before = [0, 5, 70, 301, 1100, 63];
        int[] padded = [0, 2, 0, 40, 0, 63]; // left padding at the start of some caches; the last sees only its own key
        int batch = before.Length, kv = shape.KvWidth, qkvWidth = shape.QueryWidth + 2 * kv;
        var qkv = Gpu.Rounded(ops, Gpu.Random(90, batch * qkvWidth, 1.5f));
        using var cache = new PagedCache(ops, kvHeads, headDim, before.Select(b => b + 1).ToArray(), seed: 92);
        var expected = new float[batch * shape.QueryWidth];
        var allKeys = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            int cached = before[b] + 1;
            var keys = new float[cached * kv];
            var values = new float[cached * kv];
            Gpu.Rounded(ops, Gpu.Random(91 + b, before[b] * kv)).CopyTo(keys, 0);
            Gpu.Rounded(ops, Gpu.Random(191 + b, before[b] * kv)).CopyTo(values, 0);
            qkv.AsSpan(b * qkvWidth + shape.QueryWidth, kv).CopyTo(keys.AsSpan(before[b] * kv));
            qkv.AsSpan(b * qkvWidth + shape.QueryWidth + kv, kv).CopyTo(values.AsSpan(before[b] * kv));
            var padding = Enumerable.Range(0, cached).Select(j => j < padded[b]).ToArray();
            AttentionKernel.Forward(shape, qkv.AsSpan(b * qkvWidth, shape.QueryWidth).ToArray(), 1, keys, values, padding,
                expected.AsSpan(b * shape.QueryWidth, shape.QueryWidth));
            allKeys[b] = keys;
            for (int j = 0; j < before[b]; j++) cache.Set(b, j, keys.AsSpan(j * kv, kv), values.AsSpan(j * kv, kv), padding[j]);
        }
        cache.Upload();
        using var qkvd = Gpu.Act(ops, qkv);
        using var positions = Gpu.I32(before);
        using var cachedBefore = Gpu.I32(before);
        using var lengths = Gpu.I32(before.Select(b => b + 1).ToArray());
        using var outd = ops.Device.Allocate(expected.Length * ops.ActBytes);

        ops.KvAppendBatched(qkvd.Pointer, qkvWidth, shape.QueryWidth, shape.QueryWidth + kv, cache.Pages, cache.TablesOnDevice, cache.Stride,
            positions.Pointer, cachedBefore.Pointer, batch, kvHeads, headDim);
        ops.AttentionDecodeBatched(qkvd.Pointer, qkvWidth, cache.Pages, cache.TablesOnDevice, cache.Stride, lengths.Pointer, before.Max() + 1,
            outd.Pointer, shape.QueryWidth, batch, heads, kvHeads, headDim);

        Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, expected.Length), Close.For(ops), "batched decode attention");
        for (int b = 0; b < batch; b++)
        {
            var (keys, _, padding) = cache.Read(b, before[b] + 1);
            Assert.Equal(allKeys[b], keys);
            Assert.Equal(0, padding[before[b]]);
        }
    }
}

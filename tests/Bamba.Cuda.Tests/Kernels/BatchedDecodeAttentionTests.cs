using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>The batched decode path (every sequence's append and attention in one launch each) against AttentionKernel, sequence by sequence.</summary>
public class BatchedDecodeAttentionTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 8, 2, 64)]
    [InlineData(CudaPrecision.Float32, 6, 6, 16)]
    [InlineData(CudaPrecision.BFloat16, 32, 8, 128)]
    [InlineData(CudaPrecision.BFloat16, 16, 2, 128)]
    public void EachSequenceMatchesCpu(CudaPrecision precision, int heads, int kvHeads, int headDim)
    {
        var ops = Gpu.Ops(precision);
        var shape = new AttentionKernel.Shape(heads, kvHeads, headDim);
        int[] before = [0, 5, 70, 301, 1100];
        int[] padded = [0, 2, 0, 40, 0]; // left padding at the start of some caches
        int batch = before.Length, kv = shape.KvWidth, qkvWidth = shape.QueryWidth + 2 * kv;
        var qkv = Gpu.Rounded(ops, Gpu.Random(90, batch * qkvWidth, 1.5f));
        var keyBuffers = new List<DeviceBuffer>();
        var valueBuffers = new List<DeviceBuffer>();
        var padBuffers = new List<DeviceBuffer>();
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

            long capacity = cached + 3;
            var kd = ops.Device.AllocateZeroed(capacity * kv * ops.ActBytes);
            var vd = ops.Device.AllocateZeroed(capacity * kv * ops.ActBytes);
            using (var k0 = Gpu.Act(ops, keys.AsSpan(0, before[b] * kv).ToArray())) ops.Device.CopyDevice(kd.Pointer, k0.Pointer, before[b] * kv * ops.ActBytes);
            using (var v0 = Gpu.Act(ops, values.AsSpan(0, before[b] * kv).ToArray())) ops.Device.CopyDevice(vd.Pointer, v0.Pointer, before[b] * kv * ops.ActBytes);
            var pd = Gpu.Device.Upload<byte>(padding.Take(before[b]).Select(p => (byte)(p ? 1 : 0)).Append((byte)7).ToArray()); // 7: must be overwritten
            keyBuffers.Add(kd);
            valueBuffers.Add(vd);
            padBuffers.Add(pd);
        }
        using var qkvd = Gpu.Act(ops, qkv);
        using var keyTable = Gpu.Device.Upload<ulong>(keyBuffers.Select(k => k.Pointer).ToArray());
        using var valueTable = Gpu.Device.Upload<ulong>(valueBuffers.Select(v => v.Pointer).ToArray());
        using var padTable = Gpu.Device.Upload<ulong>(padBuffers.Select(p => p.Pointer).ToArray());
        using var positions = Gpu.I32(before.Select(b => b).ToArray());
        using var cachedBefore = Gpu.I32(before);
        using var lengths = Gpu.I32(before.Select(b => b + 1).ToArray());
        using var outd = ops.Device.Allocate(expected.Length * ops.ActBytes);

        ops.KvAppendBatched(qkvd.Pointer, qkvWidth, shape.QueryWidth, shape.QueryWidth + kv, keyTable.Pointer, valueTable.Pointer, padTable.Pointer,
            positions.Pointer, cachedBefore.Pointer, batch, kv);
        ops.AttentionDecodeBatched(qkvd.Pointer, qkvWidth, keyTable.Pointer, valueTable.Pointer, padTable.Pointer, lengths.Pointer, before.Max() + 1,
            outd.Pointer, shape.QueryWidth, batch, heads, kvHeads, headDim);

        Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, expected.Length), Close.For(ops), "batched decode attention");
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(allKeys[b], Gpu.ReadAct(ops, keyBuffers[b].Pointer, allKeys[b].Length));
            Assert.Equal(0, ops.Device.Download<byte>(padBuffers[b].Pointer, before[b] + 1)[before[b]]);
        }
        foreach (var buffer in keyBuffers.Concat(valueBuffers).Concat(padBuffers)) buffer.Dispose();
    }
}

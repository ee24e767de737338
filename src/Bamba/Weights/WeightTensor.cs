using System.Runtime.InteropServices;

namespace Bamba.Weights;

/// <summary>
/// A read-only view of one stored tensor in its stored dtype (memory-mapped; valid while its
/// <see cref="WeightStore"/> lives). Row-major, as safetensors stores it. An F8_E4M3 tensor carries the scale of each
/// row (a row = the last axis), so that every reader dequantizes value × scale.
/// </summary>
public readonly unsafe struct WeightTensor
{
    public WeightTensor(TensorInfo info, byte* data) { Info = info; Data = data; }

    private WeightTensor(TensorInfo info, byte* data, ReadOnlyMemory<float> rowScales) : this(info, data) => RowScales = rowScales;

    /// <summary>This F8_E4M3 tensor with one scale per row (a per-tensor scale repeated).</summary>
    public WeightTensor WithRowScales(ReadOnlyMemory<float> scales)
    {
        if (DType != DType.F8_E4M3 || scales.Length != ElementCount / Shape[^1])
            throw new ArgumentException($"{Info.Name}: {scales.Length} row scales for a {DType} tensor of shape {Info.ShapeText}");
        return new WeightTensor(Info, Data, scales);
    }

    /// <summary>One scale per row of an F8_E4M3 tensor (empty for other dtypes).</summary>
    public ReadOnlyMemory<float> RowScales { get; }

    /// <summary>
    /// A tensor with a shape and no data: a synthetic benchmark model's matrix, filled with random values by the
    /// device it is uploaded to (the CUDA backend), so a 9 B-parameter shape needs no file.
    /// </summary>
    public static WeightTensor Placeholder(string name, long[] shape) => Placeholder(name, shape, DType.BF16);

    /// <summary>A placeholder stored as <paramref name="dtype"/> (a quantized benchmark model: random blocks on the device).</summary>
    public static WeightTensor Placeholder(string name, long[] shape, DType dtype)
    {
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        long bytes = dtype.IsQuantized() ? dtype.ByteCount(elements) : elements * dtype.Size();
        return new(new TensorInfo(name, "(random on the device)", dtype, shape, 0, bytes), null);
    }

    public bool IsPlaceholder => Data == null;

    public TensorInfo Info { get; }
    public byte* Data { get; }
    public DType DType => Info.DType;
    public long[] Shape => Info.Shape;
    public long ElementCount => Info.ElementCount;

    /// <summary>Rows [first, first+count) along the first axis, keeping the rank: a view, no copy (gate and up halves
    /// of a fused [2I, H] matrix).</summary>
    public WeightTensor Rows(long first, long count)
    {
        long[] shape = [count, .. Shape[1..]];
        return Sub($"{Info.Name}[{first}:{first + count}]", first, shape);
    }

    /// <summary>The index-th sub-tensor along the first axis, dropping that axis: one expert of an [E, R, C] tensor.</summary>
    public WeightTensor At(long index) => Sub($"{Info.Name}[{index}]", index, Shape[1..]);

    private WeightTensor Sub(string name, long firstRow, long[] shape)
    {
        if (Shape.Length < 2 || firstRow < 0 || firstRow + (shape.Length == Shape.Length ? shape[0] : 1) > Shape[0])
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"{Info.Name}: rows from {firstRow} outside {Info.ShapeText}");
        long count = shape.Length == Shape.Length ? shape[0] : 1;
        var scales = RowScales.IsEmpty ? RowScales : RowScales.Slice(checked((int)(firstRow * (RowScales.Length / Shape[0]))), checked((int)(count * (RowScales.Length / Shape[0]))));
        if (IsPlaceholder) return new WeightTensor(Placeholder(name, shape, DType).Info, null, scales);
        long rowBytes = Info.ByteLength / Shape[0], bytes = rowBytes * count;
        long begin = Info.Begin + firstRow * rowBytes;
        return new WeightTensor(new TensorInfo(name, Info.File, DType, shape, begin, begin + bytes), Data + firstRow * rowBytes, scales);
    }

    public ReadOnlySpan<byte> Bytes => new(Data, checked((int)Info.ByteLength));

    /// <summary>Elements [start, start+count) converted to float32.</summary>
    public void ReadFloats(long start, Span<float> destination)
    {
        if (DType.IsQuantized())
        {
            ReadBlocks(start, destination);
            return;
        }
        if (DType == DType.F8_E4M3)
        {
            ReadScaled(start, destination);
            return;
        }
        byte* p = Data + start * DType.Size();
        switch (DType)
        {
            case DType.F32:
                new ReadOnlySpan<float>(p, destination.Length).CopyTo(destination);
                break;
            case DType.BF16:
                Numerics.BFloat16.ToSingle(new ReadOnlySpan<ushort>(p, destination.Length), destination);
                break;
            case DType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(p, destination.Length), destination);
                break;
            default:
                throw new InvalidOperationException($"tensor '{Info.Name}' holds {DType}, not floats");
        }
    }

    /// <summary>Dequantizes whole blocks: <paramref name="start"/> and the length must fall on block boundaries (a row does).</summary>
    private void ReadBlocks(long start, Span<float> destination)
    {
        int block = DType.BlockElements();
        if (start % block != 0 || destination.Length % block != 0)
            throw new InvalidOperationException($"tensor '{Info.Name}': {DType} values are read in whole blocks of {block}");
        var bytes = new ReadOnlySpan<byte>(Data + DType.ByteCount(start), checked((int)DType.ByteCount(destination.Length)));
        Quants.BlockCodec.Dequantize(DType, bytes, destination);
    }

    /// <summary>F8_E4M3 values times their row's scale, row piece by row piece.</summary>
    private void ReadScaled(long start, Span<float> destination)
    {
        if (RowScales.IsEmpty) throw new InvalidOperationException($"tensor '{Info.Name}': F8_E4M3 values without their scales");
        long cols = Shape[^1];
        var scales = RowScales.Span;
        for (int done = 0; done < destination.Length;)
        {
            long index = start + done, row = index / cols;
            int piece = (int)Math.Min(destination.Length - done, cols - index % cols);
            Quants.Fp8E4M3.Dequantize(new ReadOnlySpan<byte>(Data + index, piece), scales[(int)row], destination.Slice(done, piece));
            done += piece;
        }
    }

    /// <summary>The whole tensor as int64 values (token ids in data files).</summary>
    public long[] ToInt64Array() =>
        DType == DType.I64 ? new ReadOnlySpan<long>(Data, checked((int)ElementCount)).ToArray()
            : throw new InvalidOperationException($"tensor '{Info.Name}' holds {DType}, not int64");

    /// <summary>The whole tensor as a new float32 array (for small tensors: norms, biases, conv weights).</summary>
    public float[] ToFloatArray()
    {
        var result = new float[checked((int)ElementCount)];
        ReadFloats(0, result);
        return result;
    }
}

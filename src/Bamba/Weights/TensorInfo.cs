namespace Bamba.Weights;

/// <summary>Where one tensor lives: its file, dtype, shape and byte range inside the file's data section.</summary>
public sealed record TensorInfo(string Name, string File, DType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

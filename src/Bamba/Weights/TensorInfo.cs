namespace Bamba.Weights;

/// <summary>Where one tensor lives: its file, dtype, shape and byte range inside the file's data section.</summary>
public sealed record TensorInfo(string Name, string File, DType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Checked: a shape such as [2^62, 4] must not wrap to a small count that passes the size check.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
    public long ByteLength => End - Begin;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

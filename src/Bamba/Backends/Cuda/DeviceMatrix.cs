using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// A weight matrix on the device, <c>[Rows, Cols]</c> row-major, in its <see cref="Format"/>: the activation type
/// (BF16 or F32) for a plain matrix, or kept in its stored quantized bytes: llama.cpp's block formats (Q8_0, Q4_0,
/// Q4_K, Q5_K, Q6_K) or FP8 E4M3 with one float32 scale per row at <see cref="RowScales"/>.
/// </summary>
public readonly record struct DeviceMatrix(ulong Data, int Rows, int Cols, DType Format, ulong RowScales = 0)
{
    /// <summary>Whether the values are decoded by the kernels that read them (not a plain BF16/F32 matrix).</summary>
    public bool IsQuantized => IsQuantizedFormat(Format);

    /// <summary>The device bytes of one row.</summary>
    public long RowBytes => BytesPerRow(Format, Cols);

    /// <summary>The bytes a product reads: every row, and the row scales.</summary>
    public long Bytes => Rows * RowBytes + (RowScales != 0 ? 4L * Rows : 0);

    /// <summary>The formats the CUDA backend keeps quantized on the device.</summary>
    public static bool IsQuantizedFormat(DType format) => format.IsQuantized() || format == DType.F8_E4M3;

    /// <summary>Values a thread of the quantized kernels decodes at once: rows are whole units (a block format's rows always are).</summary>
    public const int Unit = 32;

    public static long BytesPerRow(DType format, long cols) => format.IsQuantized() ? format.ByteCount(cols) : cols * format.Size();

    /// <summary>The kernels' name for a quantized format (gemv_NAME, dequant_act_NAME, dequant_f32_NAME in quant.cu).</summary>
    internal static string KernelName(DType format) => format switch
    {
        DType.Q8_0 => "q8_0",
        DType.Q4_0 => "q4_0",
        DType.Q4_K => "q4_k",
        DType.Q5_K => "q5_k",
        DType.Q6_K => "q6_k",
        DType.F8_E4M3 => "f8",
        _ => throw new ArgumentException($"{format} is not a quantized format the CUDA kernels decode"),
    };
}

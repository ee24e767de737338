namespace Bamba.Weights.Gguf;

/// <summary>ggml's tensor type ids (ggml.h <c>ggml_type</c>) for the types bamba reads and writes.</summary>
public static class GgmlTypes
{
    public static uint Id(DType t) => t switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.Q4_0 => 2,
        DType.Q8_0 => 8,
        DType.Q4_K => 12,
        DType.Q5_K => 13,
        DType.Q6_K => 14,
        DType.BF16 => 30,
        _ => throw new ArgumentException($"{t} has no ggml type"),
    };

    public static DType? FromId(uint id) => id switch
    {
        0 => DType.F32,
        1 => DType.F16,
        2 => DType.Q4_0,
        8 => DType.Q8_0,
        12 => DType.Q4_K,
        13 => DType.Q5_K,
        14 => DType.Q6_K,
        30 => DType.BF16,
        _ => null,
    };

    /// <summary>The name of a ggml type bamba does not compute with (for the error message), or null if the id is unknown.</summary>
    public static string? OtherName(uint id) => id switch
    {
        3 => "Q4_1", 6 => "Q5_0", 7 => "Q5_1", 9 => "Q8_1", 10 => "Q2_K", 11 => "Q3_K", 15 => "Q8_K",
        >= 16 and <= 23 or 29 => "an IQ type", 24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64",
        34 => "TQ1_0", 35 => "TQ2_0", 39 => "MXFP4", 40 => "NVFP4", 41 => "Q1_0", 42 => "Q2_0",
        _ => null,
    };
}

namespace Bamba.Weights;

/// <summary>
/// Element types a checkpoint may store. The model computes in float32 whatever the float storage; I64 appears only
/// in data files (token ids), never as a weight.
/// </summary>
public enum DType { F32, BF16, F16, I64 }

public static class DTypes
{
    public static int Size(this DType t) => t switch { DType.F32 => 4, DType.I64 => 8, _ => 2 };

    public static bool IsFloat(this DType t) => t != DType.I64;

    /// <summary>The safetensors header name; null for a name this engine cannot compute with.</summary>
    public static DType? FromSafetensorsName(string name) => name switch
    {
        "F32" => DType.F32,
        "BF16" => DType.BF16,
        "F16" => DType.F16,
        "I64" => DType.I64,
        _ => null,
    };

    public static string SafetensorsName(this DType t) => t switch
    {
        DType.F32 => "F32",
        DType.BF16 => "BF16",
        DType.F16 => "F16",
        _ => "I64",
    };
}

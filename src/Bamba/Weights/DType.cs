namespace Bamba.Weights;

/// <summary>
/// Element types a checkpoint may store. The model computes in float32 whatever the float storage; I64 appears only
/// in data files (token ids), never as a weight. The Q* types are llama.cpp's block formats (GGUF files only): a row
/// is a run of blocks, each holding <see cref="DTypes.BlockElements"/> values in <see cref="DTypes.BlockBytes"/> bytes.
/// F8_E4M3 is float8_e4m3fn, one byte a value, whose rows a separate scale multiplies (compressed-tensors' FP8
/// checkpoints, <see cref="Quants.Fp8E4M3"/>). It is last because the CUDA kernels take the others by number.
/// </summary>
public enum DType { F32, BF16, F16, I64, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, F8_E4M3 }

public static class DTypes
{
    /// <summary>Bytes per element of an unquantized type.</summary>
    public static int Size(this DType t) => t switch
    {
        DType.F32 => 4,
        DType.I64 => 8,
        DType.BF16 or DType.F16 => 2,
        DType.F8_E4M3 => 1,
        _ => throw new InvalidOperationException($"{t} is a block format: use BlockBytes"),
    };

    public static bool IsFloat(this DType t) => t != DType.I64;

    /// <summary>A llama.cpp block format (not F8_E4M3, whose scales live outside the tensor).</summary>
    public static bool IsQuantized(this DType t) => t.BlockElements() > 1;

    /// <summary>Values per block (1 for the unquantized types).</summary>
    public static int BlockElements(this DType t) => t switch
    {
        DType.Q8_0 or DType.Q4_0 => 32,
        DType.Q4_K or DType.Q5_K or DType.Q6_K => 256,
        _ => 1,
    };

    /// <summary>Bytes per block (ggml-common.h's block_q8_0 … block_q6_K).</summary>
    public static int BlockBytes(this DType t) => t switch
    {
        DType.Q8_0 => 34,
        DType.Q4_0 => 18,
        DType.Q4_K => 144,
        DType.Q5_K => 176,
        DType.Q6_K => 210,
        _ => t.Size(),
    };

    /// <summary>Bytes of <paramref name="elements"/> values, a whole number of blocks.</summary>
    public static long ByteCount(this DType t, long elements) => elements / t.BlockElements() * t.BlockBytes();

    /// <summary>The safetensors header name; null for a name this engine cannot compute with.</summary>
    public static DType? FromSafetensorsName(string name) => name switch
    {
        "F32" => DType.F32,
        "BF16" => DType.BF16,
        "F16" => DType.F16,
        "I64" => DType.I64,
        "F8_E4M3" => DType.F8_E4M3,
        _ => null,
    };

    public static string SafetensorsName(this DType t) => t switch
    {
        DType.F32 => "F32",
        DType.BF16 => "BF16",
        DType.F16 => "F16",
        DType.I64 => "I64",
        DType.F8_E4M3 => "F8_E4M3",
        _ => t.ToString(),
    };
}

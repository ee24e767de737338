namespace Bamba.Weights.Gguf;

/// <summary>
/// A target of <c>bamba convert --type</c>: llama.cpp's <c>llama_ftype</c> (general.file_type) and the tensor type
/// each GGUF tensor gets, chosen as llama.cpp's quantizer does (src/llama-quant.cpp, <c>llama_tensor_get_type</c>).
/// </summary>
public sealed record GgufFileType(string Name, uint LlamaFtype, DType Default)
{
    public static readonly IReadOnlyList<GgufFileType> All =
    [
        new("f32", 0, DType.F32), new("f16", 1, DType.F16), new("bf16", 32, DType.BF16), new("q8_0", 7, DType.Q8_0),
        new("q4_0", 2, DType.Q4_0), new("q4_k_m", 15, DType.Q4_K), new("q6_k", 18, DType.Q6_K),
    ];

    public static GgufFileType Parse(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new BambaException($"--type must be one of {string.Join(", ", All.Select(t => t.Name))}, got '{name}'");

    public bool IsQuantized => Default.IsQuantized();

    /// <summary>
    /// The type of one tensor. Only tensors of 2 or more dimensions whose name ends in "weight" take the target type,
    /// never a norm, ssm_conv1d or the router (ffn_gate_inp, kept as its F32 source); the rest stay F32 (ssm_a,
    /// ssm_d, biases, norms, conv taps). Q4_K_M gives Q6_K to the output, to attn_v and ffn_down of the layers
    /// <c>use_more_bits</c> picks, Q4_K to the rest. Rows that are not whole blocks fall back as llama.cpp's
    /// <c>tensor_type_fallback</c> does: a K-quant to a 32-block type (Q8_0 here: llama.cpp's Q5_0 for Q4_K is a type
    /// bamba does not have), a 32-block type to F16.
    /// </summary>
    public DType TypeOf(string name, long[] shape, TensorPosition position)
    {
        bool plainFloat = shape.Length < 2 || !name.EndsWith("weight", StringComparison.Ordinal)
            || name.EndsWith("_norm.weight", StringComparison.Ordinal) || name.Contains("ssm_conv1d");
        if (plainFloat) return DType.F32;
        if (!IsQuantized) return Default;
        if (name.EndsWith("ffn_gate_inp.weight", StringComparison.Ordinal)) return DType.F32;
        return Fallback(Mix(name, position), shape[^1]);
    }

    private DType Mix(string name, TensorPosition p)
    {
        bool output = name == "output.weight" || (name == "token_embd.weight" && p.TiedEmbeddings);
        if (output) return Default is DType.Q8_0 ? DType.Q8_0 : DType.Q6_K;
        if (Name != "q4_k_m") return Default;
        if (name.EndsWith("attn_v.weight", StringComparison.Ordinal) && UseMoreBits(p.AttentionIndex, p.AttentionLayers)) return DType.Q6_K;
        if (name.Contains("ffn_down", StringComparison.Ordinal) && UseMoreBits(p.FfnDownIndex, p.Layers)) return DType.Q6_K;
        return Default;
    }

    private static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static DType Fallback(DType t, long rowLength) =>
        rowLength % t.BlockElements() == 0 ? t
        : t.BlockElements() > 32 && rowLength % DType.Q8_0.BlockElements() == 0 ? DType.Q8_0
        : DType.F16;
}

/// <summary>Where a tensor sits, for the layer-dependent choices of Q4_K_M.</summary>
/// <param name="AttentionIndex">Which attention layer (0-based, counting attention layers only) holds it.</param>
/// <param name="FfnDownIndex">What llama.cpp's quantizer takes as an ffn_down tensor's layer: in a file with experts the
/// block number, else how many ffn_down tensors come before it.</param>
public readonly record struct TensorPosition(int Layers, int AttentionIndex, int AttentionLayers, int FfnDownIndex, bool TiedEmbeddings);

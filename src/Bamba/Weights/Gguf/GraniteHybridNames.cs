namespace Bamba.Weights.Gguf;

/// <summary>
/// How llama.cpp's <c>granitehybrid</c> architecture names Bamba's tensors (src/llama-arch.cpp's LLM_TENSOR_NAMES,
/// conversion/mamba.py and granite.py): HF name ↔ GGUF name, and which tensors change shape or value on the way.
/// </summary>
public static class GraniteHybridNames
{
    public const string Architecture = "granitehybrid";

    /// <summary>What a tensor undergoes between the two layouts.</summary>
    public enum Change
    {
        None,
        /// <summary>Same bytes, another shape (conv weight [C,1,K] ↔ [C,K]; D [H] ↔ [H,1]; norm [D] ↔ [G, D/G]).</summary>
        Reshape,
        /// <summary><c>ssm_a = −exp(A_log)</c>, stored [H, 1].</summary>
        NegExp,
        /// <summary>Q or K rows: HF's rotate-half pairs (i, i+R/2) ↔ GGML's interleaved pairs (2i, 2i+1) within the first R rows of each head.</summary>
        RopeRows,
    }

    private static readonly (string Hf, string Gguf, Change Change)[] Global =
    [
        ("model.embed_tokens.weight", "token_embd.weight", Change.None),
        ("model.final_layernorm.weight", "output_norm.weight", Change.None),
        ("lm_head.weight", "output.weight", Change.None),
    ];

    private static readonly (string Hf, string Gguf, Change Change)[] PerLayer =
    [
        ("input_layernorm.weight", "attn_norm.weight", Change.None),
        ("pre_ff_layernorm.weight", "ffn_norm.weight", Change.None),
        ("feed_forward.gate_proj.weight", "ffn_gate.weight", Change.None),
        ("feed_forward.up_proj.weight", "ffn_up.weight", Change.None),
        ("feed_forward.down_proj.weight", "ffn_down.weight", Change.None),
        ("self_attn.q_proj.weight", "attn_q.weight", Change.RopeRows),
        ("self_attn.k_proj.weight", "attn_k.weight", Change.RopeRows),
        ("self_attn.v_proj.weight", "attn_v.weight", Change.None),
        ("self_attn.o_proj.weight", "attn_output.weight", Change.None),
        ("mamba.in_proj.weight", "ssm_in.weight", Change.None),
        ("mamba.in_proj.bias", "ssm_in.bias", Change.None),
        ("mamba.conv1d.weight", "ssm_conv1d.weight", Change.Reshape),
        ("mamba.conv1d.bias", "ssm_conv1d.bias", Change.None),
        ("mamba.dt_bias", "ssm_dt.bias", Change.None),
        ("mamba.A_log", "ssm_a", Change.NegExp),
        ("mamba.D", "ssm_d", Change.Reshape),
        ("mamba.norm.weight", "ssm_norm.weight", Change.Reshape),
        ("mamba.out_proj.weight", "ssm_out.weight", Change.None),
        ("mamba.out_proj.bias", "ssm_out.bias", Change.None),
    ];

    public static (string Name, Change Change)? ToGguf(string hf)
    {
        foreach (var g in Global) if (g.Hf == hf) return (g.Gguf, g.Change);
        if (Layer(hf, "model.layers.") is not var (layer, rest)) return null;
        foreach (var p in PerLayer) if (p.Hf == rest) return ($"blk.{layer}.{p.Gguf}", p.Change);
        return null;
    }

    public static (string Name, Change Change)? ToHf(string gguf)
    {
        foreach (var g in Global) if (g.Gguf == gguf) return (g.Hf, g.Change);
        if (Layer(gguf, "blk.") is not var (layer, rest)) return null;
        foreach (var p in PerLayer) if (p.Gguf == rest) return ($"model.layers.{layer}.{p.Hf}", p.Change);
        return null;
    }

    private static (int Layer, string Suffix)? Layer(string name, string prefix)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int dot = name.IndexOf('.', prefix.Length);
        return dot > 0 && int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int layer) && layer >= 0
            ? (layer, name[(dot + 1)..]) : null;
    }

    /// <summary>
    /// The HF row stored at GGUF row <paramref name="row"/> of a Q/K matrix with heads of <paramref name="headDim"/>
    /// rows, the first <paramref name="rotaryDim"/> of them rotated.
    /// </summary>
    public static int HfRowOfGgufRow(int row, int headDim, int rotaryDim)
    {
        int head = row / headDim, r = row % headDim;
        if (r >= rotaryDim) return row;
        return head * headDim + (r % 2 == 0 ? r / 2 : r / 2 + rotaryDim / 2);
    }

    /// <summary>The GGUF row that holds HF row <paramref name="row"/> (the inverse of <see cref="HfRowOfGgufRow"/>).</summary>
    public static int GgufRowOfHfRow(int row, int headDim, int rotaryDim)
    {
        int head = row / headDim, r = row % headDim, half = rotaryDim / 2;
        if (r >= rotaryDim) return row;
        return head * headDim + (r < half ? 2 * r : 2 * (r - half) + 1);
    }
}

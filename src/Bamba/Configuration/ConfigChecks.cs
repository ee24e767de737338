namespace Bamba.Configuration;

/// <summary>
/// Checks of config.json values that would otherwise load and then fail far away (a NaN rotary angle, an EOS id
/// that indexes past the logits, a dimension whose products wrap an int): each refuses with one line naming the field.
/// Self-contained so that any architecture's reader can call them.
/// </summary>
public static class ConfigChecks
{
    /// <summary>The largest single dimension accepted: far above any real model, far below int overflow in products.</summary>
    public const int MaxDimension = 1 << 24;

    private static readonly string[] KnownDtypes = ["float32", "float", "bfloat16", "float16", "half"];

    /// <summary>Every check below, in the order a reader should run them (sizes first: later checks multiply them).</summary>
    public static void Run(BambaConfig c, string source, double? partialRotaryFactor)
    {
        Dimensions(c, source);
        Rope(c.RopeTheta, partialRotaryFactor, source);
        TokenIds(c, source);
        Dtype(c.Dtype, source);
    }

    /// <summary>Every size at most <see cref="MaxDimension"/>, and each weight matrix small enough for one array.</summary>
    public static void Dimensions(BambaConfig c, string source)
    {
        foreach (var (field, value) in new[]
        {
            ("vocab_size", c.VocabSize), ("hidden_size", c.HiddenSize), ("intermediate_size", c.IntermediateSize),
            ("num_hidden_layers", c.NumHiddenLayers), ("num_attention_heads", c.NumAttentionHeads), ("num_key_value_heads", c.NumKeyValueHeads),
            ("mamba_n_heads", c.MambaNHeads), ("mamba_n_groups", c.MambaNGroups), ("mamba_d_state", c.MambaDState),
            ("mamba_d_conv", c.MambaDConv), ("mamba_expand", c.MambaExpand), ("mamba_chunk_size", c.MambaChunkSize),
            ("mamba_d_head", c.MambaDHead), ("max_position_embeddings", c.MaxPositionEmbeddings),
        })
            if (value > MaxDimension) throw new BambaException($"{source}: {field} is {value}, more than {MaxDimension}");
        long inner = (long)c.MambaExpand * c.HiddenSize;
        long inProj = inner + (inner + 2L * c.MambaNGroups * c.MambaDState) + c.MambaNHeads;
        foreach (var (what, elements) in new[]
        {
            ("vocab_size × hidden_size", (long)c.VocabSize * c.HiddenSize),
            ("intermediate_size × hidden_size", (long)c.IntermediateSize * c.HiddenSize),
            ("the Mamba input projection (mamba_expand, hidden_size, mamba_n_groups, mamba_d_state, mamba_n_heads)", inProj * c.HiddenSize),
        })
            if (elements > Array.MaxLength) throw new BambaException($"{source}: {what} makes a weight of {elements} elements, more than one array holds");
    }

    /// <summary>rope_theta positive and finite; partial_rotary_factor, when the file gives one, in (0, 1].</summary>
    public static void Rope(double ropeTheta, double? partialRotaryFactor, string source)
    {
        if (!(ropeTheta > 0) || double.IsInfinity(ropeTheta))
            throw new BambaException($"{source}: rope_theta must be a positive number, got {ropeTheta}");
        if (partialRotaryFactor is double f && !(f > 0 && f <= 1))
            throw new BambaException($"{source}: partial_rotary_factor must be in (0, 1], got {f}");
    }

    /// <summary>eos_token_id (each) and bos_token_id inside the vocabulary.</summary>
    public static void TokenIds(BambaConfig c, string source)
    {
        foreach (int id in c.EosTokenIds)
            if ((uint)id >= (uint)c.VocabSize)
                throw new BambaException($"{source}: eos_token_id {id} is outside the vocabulary (0..{c.VocabSize - 1})");
        if (c.BosTokenId is int bos && (uint)bos >= (uint)c.VocabSize)
            throw new BambaException($"{source}: bos_token_id {bos} is outside the vocabulary (0..{c.VocabSize - 1})");
    }

    /// <summary>dtype (or torch_dtype), when given, one of the floating types a checkpoint stores.</summary>
    public static void Dtype(string? dtype, string source)
    {
        if (dtype is not null && !KnownDtypes.Contains(dtype))
            throw new BambaException($"{source}: dtype '{dtype}' is not supported (expected one of {string.Join(", ", KnownDtypes)})");
    }
}

using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Modeling;

/// <summary>
/// Which stored tensor feeds which op, resolved once at load and checked against the config. Large matrices stay
/// memory-mapped in their stored dtype; small vectors (norms, biases, conv taps, A, D) are copied to float32.
/// </summary>
public sealed class ModelWeights
{
    public required WeightTensor Embedding { get; init; }
    public required WeightTensor LmHead { get; init; }
    public required float[] FinalNorm { get; init; }
    public required LayerWeights[] Layers { get; init; }

    public static ModelWeights Load(WeightStore store, BambaConfig c)
    {
        long v = c.VocabSize, h = c.HiddenSize;
        var embedding = store.Get("model.embed_tokens.weight", v, h);
        return new ModelWeights
        {
            Embedding = embedding,
            // A tied head reuses the embedding; some tied checkpoints still carry a copy of lm_head, which is ignored.
            LmHead = c.TieWordEmbeddings ? embedding : store.Get("lm_head.weight", v, h),
            FinalNorm = store.Get("model.final_layernorm.weight", h).ToFloatArray(),
            Layers = Enumerable.Range(0, c.NumHiddenLayers).Select(i => LayerWeights.Load(store, c, i)).ToArray(),
        };
    }
}

public sealed class LayerWeights
{
    public required float[] InputNorm { get; init; }
    public required float[] PreFeedForwardNorm { get; init; }
    public MambaWeights? Mamba { get; init; }
    public AttentionWeights? Attention { get; init; }
    public required MlpWeights Mlp { get; init; }

    public static LayerWeights Load(WeightStore store, BambaConfig c, int layer)
    {
        string p = $"model.layers.{layer}.";
        return new LayerWeights
        {
            InputNorm = store.Get(p + "input_layernorm.weight", c.HiddenSize).ToFloatArray(),
            PreFeedForwardNorm = store.Get(p + "pre_ff_layernorm.weight", c.HiddenSize).ToFloatArray(),
            Mamba = c.IsAttentionLayer(layer) ? null : MambaWeights.Load(store, c, p + "mamba."),
            Attention = c.IsAttentionLayer(layer) ? AttentionWeights.Load(store, c, p + "self_attn.") : null,
            Mlp = new MlpWeights
            {
                Gate = store.Get(p + "feed_forward.gate_proj.weight", c.IntermediateSize, c.HiddenSize),
                Up = store.Get(p + "feed_forward.up_proj.weight", c.IntermediateSize, c.HiddenSize),
                Down = store.Get(p + "feed_forward.down_proj.weight", c.HiddenSize, c.IntermediateSize),
            },
        };
    }
}

public sealed class MlpWeights
{
    public required WeightTensor Gate { get; init; }
    public required WeightTensor Up { get; init; }
    public required WeightTensor Down { get; init; }
}

public sealed class AttentionWeights
{
    public required WeightTensor Q { get; init; }
    public required WeightTensor K { get; init; }
    public required WeightTensor V { get; init; }
    public required WeightTensor O { get; init; }

    public static AttentionWeights Load(WeightStore store, BambaConfig c, string p)
    {
        long h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        return new AttentionWeights
        {
            Q = store.Get(p + "q_proj.weight", q, h),
            K = store.Get(p + "k_proj.weight", kv, h),
            V = store.Get(p + "v_proj.weight", kv, h),
            O = store.Get(p + "o_proj.weight", h, q),
        };
    }
}

public sealed class MambaWeights
{
    public required WeightTensor InProj { get; init; }
    public required float[] InProjBias { get; init; }
    /// <summary>[ConvDim, K]: conv1d.weight without its singleton middle axis.</summary>
    public required float[] ConvWeight { get; init; }
    public required float[] ConvBias { get; init; }
    public required float[] DtBias { get; init; }
    /// <summary><c>A = −exp(A_log)</c>, per head.</summary>
    public required float[] A { get; init; }
    public required float[] D { get; init; }
    public required float[] Norm { get; init; }
    public required WeightTensor OutProj { get; init; }
    public required float[] OutProjBias { get; init; }

    public static MambaWeights Load(WeightStore store, BambaConfig c, string p)
    {
        long h = c.HiddenSize, heads = c.MambaNHeads;
        float[] Optional(bool present, string name, long length) =>
            present ? store.Get(p + name, length).ToFloatArray() : [];
        return new MambaWeights
        {
            InProj = store.Get(p + "in_proj.weight", c.InProjDim, h),
            InProjBias = Optional(c.MambaProjBias, "in_proj.bias", c.InProjDim),
            ConvWeight = store.Get(p + "conv1d.weight", c.ConvDim, 1, c.MambaDConv).ToFloatArray(),
            ConvBias = Optional(c.MambaConvBias, "conv1d.bias", c.ConvDim),
            DtBias = store.Get(p + "dt_bias", heads).ToFloatArray(),
            A = store.Get(p + "A_log", heads).ToFloatArray().Select(x => -MathF.Exp(x)).ToArray(),
            D = store.Get(p + "D", heads).ToFloatArray(),
            Norm = store.Get(p + "norm.weight", c.MambaIntermediate).ToFloatArray(),
            OutProj = store.Get(p + "out_proj.weight", h, c.MambaIntermediate),
            OutProjBias = Optional(c.MambaProjBias, "out_proj.bias", h),
        };
    }
}

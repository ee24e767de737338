using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>The tensors of a Mamba-2 mixer and of an attention mixer under a family's prefix: the leaf names are the
/// same in every family (mamba_ssm's and transformers' module names).</summary>
internal static class MixerTensors
{
    public static IEnumerable<TensorSpec> Mamba(BambaConfig c, int layer, string p, bool convBias, bool projBias)
    {
        long h = c.HiddenSize, heads = c.MambaNHeads;
        yield return new(p + "in_proj.weight", [c.InProjDim, h], TensorRole.MambaInProj, layer);
        if (projBias) yield return new(p + "in_proj.bias", [c.InProjDim], TensorRole.MambaInProjBias, layer);
        yield return new(p + "conv1d.weight", [c.ConvDim, 1, c.MambaDConv], TensorRole.MambaConv, layer);
        if (convBias) yield return new(p + "conv1d.bias", [c.ConvDim], TensorRole.MambaConvBias, layer);
        yield return new(p + "dt_bias", [heads], TensorRole.MambaDtBias, layer);
        yield return new(p + "A_log", [heads], TensorRole.MambaALog, layer);
        yield return new(p + "D", [heads], TensorRole.MambaD, layer);
        yield return new(p + "norm.weight", [c.MambaIntermediate], TensorRole.MambaNorm, layer);
        yield return new(p + "out_proj.weight", [h, c.MambaIntermediate], TensorRole.MambaOutProj, layer);
        if (projBias) yield return new(p + "out_proj.bias", [h], TensorRole.MambaOutProjBias, layer);
    }

    public static IEnumerable<TensorSpec> Attention(BambaConfig c, int layer, string p)
    {
        long h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        yield return new(p + "q_proj.weight", [q, h], TensorRole.AttentionQ, layer);
        yield return new(p + "k_proj.weight", [kv, h], TensorRole.AttentionK, layer);
        yield return new(p + "v_proj.weight", [kv, h], TensorRole.AttentionV, layer);
        yield return new(p + "o_proj.weight", [h, q], TensorRole.AttentionO, layer);
    }

    /// <summary>A layer's mixer tensors, whichever mixer its plan gives it.</summary>
    public static IEnumerable<TensorSpec> For(BambaConfig c, int layer, string mambaPrefix, string attentionPrefix, bool convBias, bool projBias) =>
        c.Layers[layer].Mixer switch
        {
            MixerKind.Mamba => Mamba(c, layer, mambaPrefix, convBias, projBias),
            MixerKind.Attention => Attention(c, layer, attentionPrefix),
            _ => [],
        };

    /// <summary>Layer kinds as the families' configs spell them: mamba / linear_attention, attention / full_attention.</summary>
    public static MixerKind? ParseMixer(string name) => name switch
    {
        "mamba" or "linear_attention" => MixerKind.Mamba,
        "attention" or "full_attention" => MixerKind.Attention,
        _ => null,
    };
}

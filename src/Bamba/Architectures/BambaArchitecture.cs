using System.Text.Json.Nodes;
using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>
/// IBM's Bamba (<c>BambaForCausalLM</c>): every layer <c>x += mixer(input_layernorm(x)); x += mlp(pre_ff_layernorm(x))</c>,
/// attention at <c>attn_layer_indices</c> with RoPE on half of each head, Mamba-2 elsewhere, a SwiGLU MLP everywhere.
/// </summary>
internal sealed class BambaArchitecture : IArchitecture
{
    public string ModelType => "bamba";

    /// <summary>Written field by field, so a config made in code (synthetic models, training from scratch) has a file too.</summary>
    public JsonObject WriteConfig(BambaConfig c) => BambaConfigWriter.FieldByField(c);

    public BambaConfig ReadConfig(ConfigFields f)
    {
        var d = new BambaConfig();
        int hidden = f.Int("hidden_size", d.HiddenSize);
        int expand = f.Int("mamba_expand", d.MambaExpand);
        int mambaHeads = f.Int("mamba_n_heads", d.MambaNHeads);
        int dHead = f.MambaDHead("mamba_d_head", expand * hidden, mambaHeads);
        int layers = f.Int("num_hidden_layers", d.NumHiddenLayers);
        var attention = f.IntList("attn_layer_indices") ?? [];
        foreach (int layer in attention)
            if (layer < 0 || layer >= layers)
                throw f.Invalid("attn_layer_indices", $"contains {layer}, outside 0..{layers - 1}");
        var rope = f.Object("rope_parameters");
        var (limitMin, limitMax) = f.TimeStepLimit("time_step_limit");
        return new BambaConfig
        {
            VocabSize = f.Int("vocab_size", d.VocabSize),
            TieWordEmbeddings = f.Bool("tie_word_embeddings", d.TieWordEmbeddings),
            HiddenSize = hidden,
            IntermediateSize = f.Int("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = layers,
            NumAttentionHeads = f.Int("num_attention_heads", d.NumAttentionHeads),
            // transformers falls back to MHA when num_key_value_heads is null.
            NumKeyValueHeads = f.NullableInt("num_key_value_heads", d.NumKeyValueHeads) ?? f.Int("num_attention_heads", d.NumAttentionHeads),
            HiddenAct = f.String("hidden_act", d.HiddenAct),
            InitializerRange = f.Double("initializer_range", d.InitializerRange),
            RmsNormEps = f.Double("rms_norm_eps", d.RmsNormEps),
            UseCache = f.Bool("use_cache", d.UseCache),
            NumLogitsToKeep = f.NullableInt("num_logits_to_keep", d.NumLogitsToKeep),
            PadTokenId = f.NullableInt("pad_token_id", d.PadTokenId),
            BosTokenId = f.NullableInt("bos_token_id", d.BosTokenId),
            EosTokenIds = f.IntOrIntList("eos_token_id", d.EosTokenIds),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", d.MaxPositionEmbeddings),
            AttentionDropout = f.Double("attention_dropout", d.AttentionDropout),
            AttnLayerIndices = attention,
            MambaNHeads = mambaHeads,
            MambaDHead = dHead,
            MambaNGroups = f.Int("mamba_n_groups", d.MambaNGroups),
            MambaDState = f.Int("mamba_d_state", d.MambaDState),
            MambaDConv = f.Int("mamba_d_conv", d.MambaDConv),
            MambaExpand = expand,
            MambaChunkSize = f.Int("mamba_chunk_size", d.MambaChunkSize),
            MambaConvBias = f.Bool("mamba_conv_bias", d.MambaConvBias),
            MambaProjBias = f.Bool("mamba_proj_bias", d.MambaProjBias),
            TimeStepMin = f.Double("time_step_min", d.TimeStepMin),
            TimeStepMax = f.Double("time_step_max", d.TimeStepMax),
            TimeStepLimitMin = limitMin,
            TimeStepLimitMax = limitMax,
            ZLossCoefficient = f.Double("z_loss_coefficient", d.ZLossCoefficient),
            // Newer files nest theta in rope_parameters; older ones write a top-level rope_theta.
            RopeTheta = rope?.Double("rope_theta", double.NaN) is double t && !double.IsNaN(t) ? t : f.Double("rope_theta", d.RopeTheta),
            RopeType = rope?.String("rope_type", d.RopeType) ?? f.String("rope_type", d.RopeType),
            // transformers hard-codes 0.5 for Bamba whatever the file says; kept for older files that omit it.
            PartialRotaryFactor = d.PartialRotaryFactor,
            Dtype = f.NullableString("dtype") ?? f.NullableString("torch_dtype"),
        };
    }

    public void Check(BambaConfig c, ConfigFields f) => CheckMambaWidth(c, f);

    /// <summary>mamba_n_heads × mamba_d_head must be <c>mamba_expand · hidden_size</c>, as transformers' Bamba mixer
    /// (Granite's too) sizes its projections.</summary>
    internal static void CheckMambaWidth(BambaConfig c, ConfigFields f)
    {
        int heads = c.MambaNHeads, expanded = c.MambaExpand * c.HiddenSize;
        if (heads > 0 && expanded % heads != 0)
            throw f.Invalid("mamba_n_heads", $"({heads}) must divide mamba_expand * hidden_size ({expanded})");
        if (heads > 0 && c.MambaDHead * heads != expanded)
            throw f.Invalid("mamba_d_head", $"({c.MambaDHead}) × mamba_n_heads ({heads}) must equal mamba_expand * hidden_size ({expanded})");
    }

    public IEnumerable<TensorSpec> Tensors(BambaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, inter = c.IntermediateSize;
        yield return new("model.embed_tokens.weight", [v, h], TensorRole.Embedding);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            foreach (var t in MixerTensors.For(c, i, p + "mamba.", p + "self_attn.", c.MambaConvBias, c.MambaProjBias)) yield return t;
            yield return new(p + "feed_forward.gate_proj.weight", [inter, h], TensorRole.MlpGate, i);
            yield return new(p + "feed_forward.up_proj.weight", [inter, h], TensorRole.MlpUp, i);
            yield return new(p + "feed_forward.down_proj.weight", [h, inter], TensorRole.MlpDown, i);
            yield return new(p + "input_layernorm.weight", [h], TensorRole.MixerNorm, i);
            yield return new(p + "pre_ff_layernorm.weight", [h], TensorRole.FeedForwardNorm, i);
        }
        yield return new("model.final_layernorm.weight", [h], TensorRole.FinalNorm);
        if (!c.TieWordEmbeddings) yield return new("lm_head.weight", [v, h], TensorRole.LmHead);
    }
}

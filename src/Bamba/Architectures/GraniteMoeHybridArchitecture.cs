using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>
/// IBM's Granite 4.0 H (<c>GraniteMoeHybridForCausalLM</c>): Bamba's layers with a shared SwiGLU MLP in every layer,
/// plus softmax-routed experts when <c>num_local_experts</c> &gt; 0; embeddings × <c>embedding_multiplier</c>, each
/// sublayer × <c>residual_multiplier</c>, attention scaled by <c>attention_multiplier</c> with RoPE only when
/// <c>position_embedding_type</c> is "rope", logits ÷ <c>logits_scaling</c>. The gated norm spans the full d_inner
/// (the mixer is transformers' BambaMixer).
/// </summary>
internal sealed class GraniteMoeHybridArchitecture : IArchitecture
{
    public string ModelType => "granitemoehybrid";

    public BambaConfig ReadConfig(ConfigFields f)
    {
        int hidden = f.Int("hidden_size", 4096);
        int expand = f.Int("mamba_expand", 2);
        int mambaHeads = f.Int("mamba_n_heads", 128);
        int dHead = f.MambaDHead("mamba_d_head", expand * hidden, mambaHeads);
        int experts = f.Int("num_local_experts", 8);
        int heads = f.Int("num_attention_heads", 32);
        if (f.Bool("attention_bias", false)) throw f.Invalid("attention_bias", "true is not supported (attention projections without bias)");
        string? positions = f.NullableString("position_embedding_type");
        if (positions is not (null or "rope")) throw f.Invalid("position_embedding_type", $"'{positions}' is not supported (expected null or \"rope\")");
        var rope = f.Object("rope_parameters");
        var (limitMin, limitMax) = f.TimeStepLimit("time_step_limit");
        var ffn = experts > 0 ? FeedForwardKind.MixtureOfExperts : FeedForwardKind.Mlp;
        var layers = LayerKinds(f).Select(m => new LayerSpec(m, ffn)).ToArray();
        return new BambaConfig
        {
            VocabSize = f.Int("vocab_size", 32000),
            TieWordEmbeddings = f.Bool("tie_word_embeddings", false),
            HiddenSize = hidden,
            IntermediateSize = f.Int("intermediate_size", 11008),
            SharedIntermediateSize = f.Int("shared_intermediate_size", 1024),
            NumHiddenLayers = f.Int("num_hidden_layers", layers.Length),
            Layers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = f.NullableInt("num_key_value_heads", null) ?? heads,
            HiddenAct = f.String("hidden_act", "silu"),
            InitializerRange = f.Double("initializer_range", 0.02),
            RmsNormEps = f.Double("rms_norm_eps", 1e-6),
            UseCache = f.Bool("use_cache", true),
            PadTokenId = f.NullableInt("pad_token_id", 0),
            BosTokenId = f.NullableInt("bos_token_id", 1),
            EosTokenIds = f.IntOrIntList("eos_token_id", [2]),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", 2048),
            AttentionDropout = f.Double("attention_dropout", 0),
            NumExperts = experts,
            NumExpertsPerToken = f.Int("num_experts_per_tok", 2),
            ExpertIntermediateSize = f.Int("intermediate_size", 11008),
            RouterScoring = RouterScoring.SoftmaxTopK,
            RouterAuxLossCoefficient = f.Double("router_aux_loss_coef", 0.001),
            OutputRouterLogits = f.Bool("output_router_logits", false),
            EmbeddingMultiplier = f.Double("embedding_multiplier", 1.0),
            ResidualMultiplier = f.Double("residual_multiplier", 1.0),
            AttentionScale = f.Double("attention_multiplier", 1.0),
            LogitsScaling = f.Double("logits_scaling", 1.0),
            UseRope = positions == "rope",
            PartialRotaryFactor = 1.0,
            RopeTheta = rope?.Double("rope_theta", double.NaN) is double t && !double.IsNaN(t) ? t : f.Double("rope_theta", 10000.0),
            RopeType = rope?.String("rope_type", "default") ?? "default",
            MambaNHeads = mambaHeads,
            MambaDHead = dHead,
            MambaNGroups = f.Int("mamba_n_groups", 1),
            MambaDState = f.Int("mamba_d_state", 256),
            MambaDConv = f.Int("mamba_d_conv", 4),
            MambaExpand = expand,
            MambaChunkSize = f.Int("mamba_chunk_size", 256),
            MambaConvBias = f.Bool("mamba_conv_bias", true),
            MambaProjBias = f.Bool("mamba_proj_bias", false),
            TimeStepLimitMin = limitMin,
            TimeStepLimitMax = limitMax,
            Dtype = f.NullableString("dtype") ?? f.NullableString("torch_dtype"),
        };
    }

    public void Check(BambaConfig c, ConfigFields f) => BambaArchitecture.CheckMambaWidth(c, f);

    /// <summary><c>layer_types</c> (newer files) or <c>layers_block_type</c>.</summary>
    private static MixerKind[] LayerKinds(ConfigFields f)
    {
        string field = f.Has("layer_types") ? "layer_types" : "layers_block_type";
        var names = f.StringList(field) ?? throw f.Invalid(field, "is missing (the layer plan: a list of mamba / attention)");
        return names.Select(n => MixerTensors.ParseMixer(n)
            ?? throw f.Invalid(field, $"contains '{n}' (expected mamba, linear_attention, attention or full_attention)")).ToArray();
    }

    public IEnumerable<TensorSpec> Tensors(BambaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, e = c.NumExperts, inter = c.ExpertIntermediateSize, shared = c.DenseMlpSize;
        yield return new("model.embed_tokens.weight", [v, h], TensorRole.Embedding);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            foreach (var t in MixerTensors.For(c, i, p + "mamba.", p + "self_attn.", c.MambaConvBias, c.MambaProjBias)) yield return t;
            if (c.Layers[i].FeedForward == FeedForwardKind.MixtureOfExperts)
            {
                yield return new(p + "block_sparse_moe.input_linear.weight", [e, 2 * inter, h], TensorRole.ExpertsGateUp, i);
                yield return new(p + "block_sparse_moe.output_linear.weight", [e, h, inter], TensorRole.ExpertsDown, i);
                yield return new(p + "block_sparse_moe.router.layer.weight", [e, h], TensorRole.Router, i);
            }
            yield return new(p + "shared_mlp.input_linear.weight", [2 * shared, h], TensorRole.MlpGateUp, i);
            yield return new(p + "shared_mlp.output_linear.weight", [h, shared], TensorRole.MlpDown, i);
            yield return new(p + "input_layernorm.weight", [h], TensorRole.MixerNorm, i);
            yield return new(p + "post_attention_layernorm.weight", [h], TensorRole.FeedForwardNorm, i);
        }
        yield return new("model.norm.weight", [h], TensorRole.FinalNorm);
        if (!c.TieWordEmbeddings) yield return new("lm_head.weight", [v, h], TensorRole.LmHead);
    }
}

using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>
/// NVIDIA's Nemotron-H (<c>NemotronHForCausalLM</c>): each layer is one norm and one block, <c>x += block(norm(x))</c>,
/// the block a Mamba-2 mixer, attention without positional encoding, a squared-ReLU MLP, or a mixture of squared-ReLU
/// experts (sigmoid scores, a correction bias for the choice, grouped top-k, normalised weights ×
/// <c>routed_scaling_factor</c>) with shared experts. The Mamba gated norm runs per group and dt is floored at
/// <c>time_step_min</c> (transformers' Zamba2-derived mixer).
/// </summary>
internal sealed class NemotronHArchitecture : IArchitecture
{
    public string ModelType => "nemotron_h";

    public BambaConfig ReadConfig(ConfigFields f)
    {
        Refuse(f, "attention_bias", "attention projections without bias");
        Refuse(f, "mlp_bias", "MLPs without bias");
        if (f.Has("moe_latent_size")) throw f.Invalid("moe_latent_size", "is set: latent expert projections are not supported");
        string act = f.String("mlp_hidden_act", "relu2");
        if (act != "relu2") throw f.Invalid("mlp_hidden_act", $"'{act}' is not supported (expected relu2)");
        string mambaAct = f.String("mamba_hidden_act", "silu");
        if (mambaAct is not ("silu" or "swish")) throw f.Invalid("mamba_hidden_act", $"'{mambaAct}' is not supported (expected silu)");
        var layers = Plan(f);
        int heads = f.Int("num_attention_heads", 32);
        int groups = f.Int("n_groups", 8);
        int expand = f.Int("expand", 2);
        double eps = f.Double("layer_norm_epsilon", 1e-5);
        return new BambaConfig
        {
            VocabSize = f.Int("vocab_size", 131072),
            TieWordEmbeddings = f.Bool("tie_word_embeddings", false),
            HiddenSize = f.Int("hidden_size", 4096),
            IntermediateSize = f.Int("intermediate_size", 21504),
            MlpGated = false,
            HiddenAct = act,
            NumHiddenLayers = f.Int("num_hidden_layers", layers.Length),
            Layers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = f.NullableInt("num_key_value_heads", 8) ?? heads,
            HeadDim = f.Int("head_dim", 128),
            UseRope = false,
            InitializerRange = f.Double("initializer_range", 0.02),
            RmsNormEps = eps,
            UseCache = f.Bool("use_cache", true),
            NumLogitsToKeep = f.NullableInt("num_logits_to_keep", 1),
            PadTokenId = f.NullableInt("pad_token_id", 0),
            BosTokenId = f.NullableInt("bos_token_id", 1),
            EosTokenIds = f.IntOrIntList("eos_token_id", [2]),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", 4096),
            AttentionDropout = f.Double("attention_dropout", 0),
            NumExperts = f.Int("n_routed_experts", 8),
            NumExpertsPerToken = f.Int("num_experts_per_tok", 2),
            ExpertIntermediateSize = f.Int("moe_intermediate_size", 7688),
            SharedExpertIntermediateSize = f.Int("n_shared_experts", 1) > 0 ? f.Int("moe_shared_expert_intermediate_size", 7688) : 0,
            RouterScoring = RouterScoring.SigmoidGrouped,
            RouterGroups = f.Int("n_group", 1),
            RouterTopKGroups = f.Int("topk_group", 1),
            NormalizeTopKWeights = f.Bool("norm_topk_prob", true),
            RoutedScalingFactor = f.Double("routed_scaling_factor", 1.0),
            MambaNHeads = f.Int("mamba_num_heads", 128),
            MambaDHead = f.Int("mamba_head_dim", 64),
            MambaNGroups = groups,
            MambaNormGroups = groups,
            MambaDState = f.Int("ssm_state_size", 128),
            MambaDConv = f.Int("conv_kernel", 4),
            MambaExpand = expand,
            MambaChunkSize = f.Int("chunk_size", 128),
            MambaConvBias = f.Bool("use_conv_bias", true),
            MambaProjBias = f.Bool("use_bias", false),
            // transformers' mixer floors dt at time_step_min and has no upper clamp (time_step_limit is not read).
            TimeStepMin = f.Double("time_step_min", 0.001),
            TimeStepMax = f.Double("time_step_max", 0.1),
            TimeStepLimitMin = f.Double("time_step_min", 0.001),
            TimeStepLimitMax = double.PositiveInfinity,
            Dtype = f.NullableString("dtype") ?? f.NullableString("torch_dtype"),
        };
    }

    private static void Refuse(ConfigFields f, string field, string supported)
    {
        if (f.Bool(field, false)) throw f.Invalid(field, $"true is not supported ({supported})");
    }

    /// <summary><c>layers_block_type</c> (mamba / attention / mlp / moe, or the linear_attention / full_attention
    /// spellings), else <c>hybrid_override_pattern</c> (M, *, -, E).</summary>
    private static LayerSpec[] Plan(ConfigFields f)
    {
        if (f.StringList("layers_block_type") is { } names)
            return names.Select(n => Block(n) ?? throw f.Invalid("layers_block_type",
                $"contains '{n}' (expected mamba, attention, mlp or moe)")).ToArray();
        string pattern = f.NullableString("hybrid_override_pattern")
            ?? throw f.Invalid("layers_block_type", "is missing, and so is hybrid_override_pattern (the layer plan)");
        return pattern.Select(ch => Block(ch switch { 'M' => "mamba", '*' => "attention", '-' => "mlp", 'E' => "moe", _ => "" })
            ?? throw f.Invalid("hybrid_override_pattern", $"contains '{ch}' (expected M, *, - or E)")).ToArray();
    }

    private static LayerSpec? Block(string name) => name switch
    {
        "mlp" => new LayerSpec(MixerKind.None, FeedForwardKind.Mlp),
        "moe" => new LayerSpec(MixerKind.None, FeedForwardKind.MixtureOfExperts),
        _ => MixerTensors.ParseMixer(name) is { } m ? new LayerSpec(m, FeedForwardKind.None) : null,
    };

    public IEnumerable<TensorSpec> Tensors(BambaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, e = c.NumExperts;
        yield return new("backbone.embeddings.weight", [v, h], TensorRole.Embedding);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"backbone.layers.{i}.", m = p + "mixer.";
            var spec = c.Layers[i];
            foreach (var t in MixerTensors.For(c, i, m, m, c.MambaConvBias, c.MambaProjBias)) yield return t;
            if (spec.FeedForward == FeedForwardKind.Mlp)
            {
                yield return new(m + "up_proj.weight", [c.IntermediateSize, h], TensorRole.MlpUp, i);
                yield return new(m + "down_proj.weight", [h, c.IntermediateSize], TensorRole.MlpDown, i);
            }
            if (spec.FeedForward == FeedForwardKind.MixtureOfExperts)
            {
                long inter = c.ExpertIntermediateSize, shared = c.SharedExpertIntermediateSize;
                for (int x = 0; x < e; x++)
                {
                    yield return new(m + $"experts.{x}.up_proj.weight", [inter, h], TensorRole.ExpertUp, i, x);
                    yield return new(m + $"experts.{x}.down_proj.weight", [h, inter], TensorRole.ExpertDown, i, x);
                }
                yield return new(m + "gate.weight", [e, h], TensorRole.Router, i);
                yield return new(m + "gate.e_score_correction_bias", [e], TensorRole.RouterBias, i, Trainable: false);
                if (shared > 0)
                {
                    yield return new(m + "shared_experts.up_proj.weight", [shared, h], TensorRole.MlpUp, i);
                    yield return new(m + "shared_experts.down_proj.weight", [h, shared], TensorRole.MlpDown, i);
                }
            }
            var norm = spec.Mixer == MixerKind.None ? TensorRole.FeedForwardNorm : TensorRole.MixerNorm;
            yield return new(p + "norm.weight", [h], norm, i);
        }
        yield return new("backbone.norm_f.weight", [h], TensorRole.FinalNorm);
        if (!c.TieWordEmbeddings) yield return new("lm_head.weight", [v, h], TensorRole.LmHead);
    }
}

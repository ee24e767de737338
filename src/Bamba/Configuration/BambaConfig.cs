namespace Bamba.Configuration;

/// <summary>
/// A hybrid model's <c>config.json</c>, typed: every field of transformers' <c>BambaConfig</c> with its defaults, the
/// fields the other hybrid families add (layer plan, mixture of experts, multipliers), and the sizes derived from them.
/// Created by <see cref="BambaConfigReader"/> through the architecture registry, which maps each family's field names
/// here and validates what it reads.
/// </summary>
public sealed record BambaConfig
{
    /// <summary>The file's <c>model_type</c>: which registered architecture reads and names this model.</summary>
    public string ModelType { get; init; } = "bamba";
    public int VocabSize { get; init; } = 128000;
    public bool TieWordEmbeddings { get; init; }
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 14336;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 8;
    public string HiddenAct { get; init; } = "silu";
    public double InitializerRange { get; init; } = 0.02;
    public double RmsNormEps { get; init; } = 1e-5;
    public bool UseCache { get; init; } = true;
    public int? NumLogitsToKeep { get; init; } = 1;
    public int? PadTokenId { get; init; } = 0;
    public int? BosTokenId { get; init; } = 1;
    /// <summary>One or more end-of-sequence ids (HF allows an int or a list).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [2];

    /// <summary>The vocabulary size, end-of-sequence and padding ids, as generation sees them.</summary>
    public Generation.TokenSpace TokenSpace => new(VocabSize, EosTokenIds, PadTokenId);

    public int MaxPositionEmbeddings { get; init; } = 262144;
    public double AttentionDropout { get; init; }
    /// <summary>Layers that use attention; all others are Mamba-2 mixers. Empty = no attention layer.</summary>
    public IReadOnlyList<int> AttnLayerIndices { get; init; } = [];
    public int MambaNHeads { get; init; } = 128;
    public int MambaDHead { get; init; }
    public int MambaNGroups { get; init; } = 1;
    public int MambaDState { get; init; } = 256;
    public int MambaDConv { get; init; } = 4;
    public int MambaExpand { get; init; } = 2;
    public int MambaChunkSize { get; init; } = 256;
    public bool MambaConvBias { get; init; } = true;
    public bool MambaProjBias { get; init; }
    public double TimeStepMin { get; init; } = 0.001;
    public double TimeStepMax { get; init; } = 0.1;
    public double TimeStepLimitMin { get; init; }
    public double TimeStepLimitMax { get; init; } = double.PositiveInfinity;
    public double ZLossCoefficient { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    public string RopeType { get; init; } = "default";
    /// <summary>Fraction of each attention head that RoPE rotates (transformers hard-codes 0.5 for Bamba).</summary>
    public double PartialRotaryFactor { get; init; } = 0.5;
    /// <summary>The checkpoint's stored dtype as config.json names it ("float32", "bfloat16", ...), if given.</summary>
    public string? Dtype { get; init; }

    /// <summary>Each layer's mixer and feed-forward. Without an explicit plan, Bamba's: attention at
    /// <see cref="AttnLayerIndices"/>, Mamba elsewhere, a gated MLP in every layer.</summary>
    public IReadOnlyList<LayerSpec> Layers
    {
        get => _layers ?? Enumerable.Range(0, NumHiddenLayers)
            .Select(i => new LayerSpec(AttnLayerIndices.Contains(i) ? MixerKind.Attention : MixerKind.Mamba, FeedForwardKind.Mlp))
            .ToArray();
        init => _layers = value;
    }
    private readonly IReadOnlyList<LayerSpec>? _layers;

    /// <summary>The dense MLPs (and experts) are gated SwiGLU <c>down(silu(gate·x) ⊙ up·x)</c>; otherwise
    /// squared-ReLU <c>down(relu(up·x)²)</c> (Nemotron-H).</summary>
    public bool MlpGated { get; init; } = true;
    /// <summary>Granite's shared MLP width, when it differs from the dense MLP's.</summary>
    public int? SharedIntermediateSize { get; init; }
    public int NumExperts { get; init; }
    public int NumExpertsPerToken { get; init; }
    public int ExpertIntermediateSize { get; init; }
    /// <summary>Width of the shared expert beside the routed ones; 0 = none.</summary>
    public int SharedExpertIntermediateSize { get; init; }
    public RouterScoring RouterScoring { get; init; } = RouterScoring.SoftmaxTopK;
    /// <summary>Expert groups for grouped routing (n_group) and how many of them a token may use (topk_group).</summary>
    public int RouterGroups { get; init; } = 1;
    public int RouterTopKGroups { get; init; } = 1;
    public bool NormalizeTopKWeights { get; init; } = true;
    public double RoutedScalingFactor { get; init; } = 1.0;
    public double RouterAuxLossCoefficient { get; init; }
    /// <summary>transformers adds the router auxiliary loss (× <see cref="RouterAuxLossCoefficient"/>) only when this is true (Granite's <c>output_router_logits</c>).</summary>
    public bool OutputRouterLogits { get; init; }

    /// <summary>Embeddings are multiplied by this (Granite's embedding_multiplier).</summary>
    public double EmbeddingMultiplier { get; init; } = 1.0;
    /// <summary>Each sublayer's output is multiplied by this before the residual add (Granite's residual_multiplier).</summary>
    public double ResidualMultiplier { get; init; } = 1.0;
    /// <summary>The attention softmax scale; null = head_dim^-0.5 (Granite sets attention_multiplier).</summary>
    public double? AttentionScale { get; init; }
    /// <summary>Logits are divided by this (Granite's logits_scaling).</summary>
    public double LogitsScaling { get; init; } = 1.0;
    /// <summary>Attention applies RoPE (false for Granite's position_embedding_type null and for Nemotron-H).</summary>
    public bool UseRope { get; init; } = true;
    /// <summary>Groups the gated norm of a Mamba mixer normalises over: 1 (the full d_inner, transformers' Bamba and
    /// Granite) or n_groups (Nemotron-H, as mamba_ssm).</summary>
    public int MambaNormGroups { get; init; } = 1;

    /// <summary>The config.json this was read from, for writing the same family's file back (checkpoints).</summary>
    public ConfigSource? Source { get; init; }

    public int HeadDim
    {
        get => _headDim > 0 ? _headDim : HiddenSize / NumAttentionHeads;
        init => _headDim = value;
    }
    private readonly int _headDim;
    public int MambaIntermediate => MambaNHeads * MambaDHead;
    /// <summary>Channels that go through the causal conv: x, B and C.</summary>
    public int ConvDim => MambaIntermediate + 2 * MambaNGroups * MambaDState;
    /// <summary>Output width of <c>in_proj</c>: z, xBC and dt.</summary>
    public int InProjDim => MambaIntermediate + ConvDim + MambaNHeads;
    /// <summary>Number of leading dims of each head that RoPE rotates (even).</summary>
    public int RotaryDim => (int)(HeadDim * PartialRotaryFactor) / 2 * 2;

    public bool IsAttentionLayer(int layer) => Layers[layer].Mixer == MixerKind.Attention;
    public bool IsMambaLayer(int layer) => Layers[layer].Mixer == MixerKind.Mamba;

    public int NumAttentionLayers => Enumerable.Range(0, NumHiddenLayers).Count(IsAttentionLayer);
    public int NumMambaLayers => Enumerable.Range(0, NumHiddenLayers).Count(IsMambaLayer);
    public bool HasMixtureOfExperts => Layers.Any(l => l.FeedForward == FeedForwardKind.MixtureOfExperts);
    /// <summary>Group width of the Mamba gated norm.</summary>
    public int MambaNormGroupSize => MambaIntermediate / MambaNormGroups;
    /// <summary>The dense MLP's width in a layer: Granite's shared MLP, else intermediate_size.</summary>
    public int DenseMlpSize => SharedIntermediateSize ?? IntermediateSize;
}

/// <summary>
/// The text a config was read from. It says where a config came from, not what it means: two configs with the same
/// fields are equal however their files were written, so every source compares equal to every other.
/// </summary>
public sealed class ConfigSource(string json)
{
    public string Json { get; } = json;
    public override bool Equals(object? obj) => obj is ConfigSource;
    public override int GetHashCode() => 0;
}

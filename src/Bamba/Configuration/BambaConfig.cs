namespace Bamba.Configuration;

/// <summary>
/// A Bamba model's <c>config.json</c>: every field of transformers' <c>BambaConfig</c>, with its defaults, plus the
/// sizes derived from them. Created by <see cref="BambaConfigReader"/>, which validates what it reads.
/// </summary>
public sealed record BambaConfig
{
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

    public int HeadDim => HiddenSize / NumAttentionHeads;
    public int MambaIntermediate => MambaExpand * HiddenSize;
    /// <summary>Channels that go through the causal conv: x, B and C.</summary>
    public int ConvDim => MambaIntermediate + 2 * MambaNGroups * MambaDState;
    /// <summary>Output width of <c>in_proj</c>: z, xBC and dt.</summary>
    public int InProjDim => MambaIntermediate + ConvDim + MambaNHeads;
    /// <summary>Number of leading dims of each head that RoPE rotates (even).</summary>
    public int RotaryDim => (int)(HeadDim * PartialRotaryFactor) / 2 * 2;

    public bool IsAttentionLayer(int layer) => AttnLayerIndices.Contains(layer);

    public int NumAttentionLayers => Enumerable.Range(0, NumHiddenLayers).Count(IsAttentionLayer);
}

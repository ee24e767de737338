namespace Bamba.Configuration;

/// <summary>The token mixer of a layer: a Mamba-2 mixer, grouped-query attention, or none (a feed-forward-only layer).</summary>
public enum MixerKind { None, Mamba, Attention }

/// <summary>
/// The feed-forward of a layer: none, one dense MLP (gated SwiGLU or squared-ReLU, as <see cref="BambaConfig.MlpGated"/>
/// says), or a mixture of experts of such MLPs with an optional shared expert.
/// </summary>
public enum FeedForwardKind { None, Mlp, MixtureOfExperts }

/// <summary>
/// One layer of the plan: <c>x += r·mixer(norm(x))</c> when it has a mixer, then <c>x += r·ffn(norm(x))</c> when it has
/// a feed-forward (r is the residual multiplier). Bamba and Granite layers have both; a Nemotron-H layer has one.
/// </summary>
public readonly record struct LayerSpec(MixerKind Mixer, FeedForwardKind FeedForward);

/// <summary>How a mixture of experts scores and picks experts for a token.</summary>
public enum RouterScoring
{
    /// <summary>Granite: the top-k router logits, softmax over those k.</summary>
    SoftmaxTopK,
    /// <summary>Nemotron-H (DeepSeek-V3 style): sigmoid scores, a correction bias for the choice only, grouped top-k.</summary>
    SigmoidGrouped,
}

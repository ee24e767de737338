namespace Bamba.Architectures;

/// <summary>What a stored tensor is for, whatever a family calls it.</summary>
public enum TensorRole
{
    Embedding, FinalNorm, LmHead,
    MixerNorm, FeedForwardNorm,
    MambaInProj, MambaInProjBias, MambaConv, MambaConvBias, MambaDtBias, MambaALog, MambaD, MambaNorm, MambaOutProj, MambaOutProjBias,
    AttentionQ, AttentionK, AttentionV, AttentionO,
    /// <summary>The dense MLP (a mixture's shared expert too): gate and up as two matrices, or fused as one [2I, H] (gate rows
    /// first), or up alone for a squared-ReLU MLP; down.</summary>
    MlpGate, MlpUp, MlpGateUp, MlpDown,
    /// <summary>The router [E, H], and Nemotron-H's score correction bias [E] (a buffer: used to choose, not trained).</summary>
    Router, RouterBias,
    /// <summary>Routed experts stored together: [E, 2I, H] gate|up and [E, H, I] down (Granite).</summary>
    ExpertsGateUp, ExpertsDown,
    /// <summary>Routed experts stored one by one (Nemotron-H): up [I, H] and down [H, I] of expert <see cref="TensorSpec.Expert"/>.</summary>
    ExpertUp, ExpertDown,
}

/// <summary>
/// One tensor of a model as its family names and shapes it. <see cref="Trainable"/> is false for buffers that the
/// checkpoint carries but training leaves alone (Nemotron-H's router correction bias).
/// </summary>
public sealed record TensorSpec(string Name, long[] Shape, TensorRole Role, int Layer = -1, int Expert = -1, bool Trainable = true)
{
    /// <summary>AdamW decays matrices, embeddings and conv taps, not norms, biases, A_log, D or dt_bias.</summary>
    public bool Decay => Shape.Length > 1;
}

/// <summary>A model's tensors looked up by role, layer and expert.</summary>
public sealed class TensorMap
{
    private readonly Dictionary<(TensorRole, int, int), TensorSpec> _byRole = [];

    public TensorMap(IEnumerable<TensorSpec> specs)
    {
        All = specs.ToArray();
        foreach (var s in All) _byRole.Add((s.Role, s.Layer, s.Expert), s);
    }

    public IReadOnlyList<TensorSpec> All { get; }

    public TensorSpec this[TensorRole role, int layer = -1, int expert = -1] =>
        _byRole.TryGetValue((role, layer, expert), out var s) ? s
            : throw new InvalidOperationException($"the architecture has no {role} tensor" + (layer >= 0 ? $" in layer {layer}" : ""));

    public TensorSpec? Find(TensorRole role, int layer = -1, int expert = -1) => _byRole.GetValueOrDefault((role, layer, expert));
}

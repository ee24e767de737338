using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Modeling;

/// <summary>
/// Which stored tensor feeds which op, resolved once at load through the architecture's description (names and shapes
/// checked against the config). Large matrices stay memory-mapped in their stored dtype; small vectors (norms, biases,
/// conv taps, A, D) are copied to float32.
/// </summary>
public sealed class ModelWeights
{
    public required WeightTensor Embedding { get; init; }
    public required WeightTensor LmHead { get; init; }
    public required float[] FinalNorm { get; init; }
    public required LayerWeights[] Layers { get; init; }

    /// <summary>The weights of <paramref name="store"/>, with LoRA adapters' deltas applied unmerged.</summary>
    public static ModelWeights Load(WeightStore store, BambaConfig c, ModelAdapters? adapters = null) =>
        Load(c, s => store.Get(s.Name, s.Shape), adapters);

    /// <summary>Resolves every tensor the config's layer plan needs through <paramref name="tensor"/>.</summary>
    public static ModelWeights Load(BambaConfig c, Func<TensorSpec, WeightTensor> tensor, ModelAdapters? adapters = null)
    {
        var map = ArchitectureRegistry.TensorsOf(c);
        var embedding = tensor(map[TensorRole.Embedding]);
        return new ModelWeights
        {
            Embedding = embedding,
            // A tied head reuses the embedding; some tied checkpoints still carry a copy of lm_head, which is ignored.
            LmHead = c.TieWordEmbeddings ? embedding : tensor(map[TensorRole.LmHead]),
            FinalNorm = tensor(map[TensorRole.FinalNorm]).ToFloatArray(),
            Layers = Enumerable.Range(0, c.NumHiddenLayers).Select(i => LayerWeights.Load(c, new LayerTensors(map, tensor, i, adapters))).ToArray(),
        };
    }
}

/// <summary>One layer's tensors by role.</summary>
internal readonly struct LayerTensors(TensorMap map, Func<TensorSpec, WeightTensor> tensor, int layer, ModelAdapters? adapters)
{
    public AdapterDeltas? Delta(TensorRole role) => adapters is not null && map.Find(role, layer) is { } s ? adapters.For(s.Name) : null;
    public int Layer => layer;
    public WeightTensor Get(TensorRole role, int expert = -1) => tensor(map[role, layer, expert]);
    public WeightTensor? Find(TensorRole role) => map.Find(role, layer) is { } s ? tensor(s) : null;
    public float[] Vector(TensorRole role) => Get(role).ToFloatArray();
    public float[] OptionalVector(TensorRole role) => Find(role)?.ToFloatArray() ?? [];
}

public sealed class LayerWeights
{
    /// <summary>The norm before the mixer; null in a layer without one.</summary>
    public float[]? MixerNorm { get; init; }
    /// <summary>The norm before the feed-forward; null in a layer without one.</summary>
    public float[]? FeedForwardNorm { get; init; }
    public MambaWeights? Mamba { get; init; }
    public AttentionWeights? Attention { get; init; }
    /// <summary>The dense MLP, or a mixture's shared expert.</summary>
    public MlpWeights? Mlp { get; init; }
    public ExpertWeights? Experts { get; init; }

    internal static LayerWeights Load(BambaConfig c, LayerTensors t)
    {
        var spec = c.Layers[t.Layer];
        bool hasMlp = spec.FeedForward == FeedForwardKind.Mlp || t.Find(TensorRole.MlpDown) is not null;
        return new LayerWeights
        {
            MixerNorm = spec.Mixer == MixerKind.None ? null : t.Vector(TensorRole.MixerNorm),
            FeedForwardNorm = spec.FeedForward == FeedForwardKind.None ? null : t.Vector(TensorRole.FeedForwardNorm),
            Mamba = spec.Mixer == MixerKind.Mamba ? LoadMamba(t) : null,
            Attention = spec.Mixer == MixerKind.Attention ? new AttentionWeights
            {
                Q = t.Get(TensorRole.AttentionQ), K = t.Get(TensorRole.AttentionK),
                V = t.Get(TensorRole.AttentionV), O = t.Get(TensorRole.AttentionO),
                QDelta = t.Delta(TensorRole.AttentionQ), KDelta = t.Delta(TensorRole.AttentionK),
                VDelta = t.Delta(TensorRole.AttentionV), ODelta = t.Delta(TensorRole.AttentionO),
            } : null,
            Mlp = spec.FeedForward != FeedForwardKind.None && hasMlp ? LoadMlp(t) : null,
            Experts = spec.FeedForward == FeedForwardKind.MixtureOfExperts ? LoadExperts(c, t) : null,
        };
    }

    private static MambaWeights LoadMamba(LayerTensors t) => new()
    {
        InProj = t.Get(TensorRole.MambaInProj),
        InProjBias = t.OptionalVector(TensorRole.MambaInProjBias),
        ConvWeight = t.Vector(TensorRole.MambaConv),
        ConvBias = t.OptionalVector(TensorRole.MambaConvBias),
        DtBias = t.Vector(TensorRole.MambaDtBias),
        A = t.Vector(TensorRole.MambaALog).Select(x => -MathF.Exp(x)).ToArray(),
        D = t.Vector(TensorRole.MambaD),
        Norm = t.Vector(TensorRole.MambaNorm),
        OutProj = t.Get(TensorRole.MambaOutProj),
        OutProjBias = t.OptionalVector(TensorRole.MambaOutProjBias),
        InProjDelta = t.Delta(TensorRole.MambaInProj),
        OutProjDelta = t.Delta(TensorRole.MambaOutProj),
    };

    /// <summary>Gate and up as stored, or the two halves of a fused gate|up matrix.</summary>
    private static MlpWeights LoadMlp(LayerTensors t)
    {
        var down = t.Get(TensorRole.MlpDown);
        var downDelta = t.Delta(TensorRole.MlpDown);
        if (t.Find(TensorRole.MlpGateUp) is { } fused) return Halves(fused, down, t.Delta(TensorRole.MlpGateUp), downDelta);
        return new MlpWeights
        {
            Gate = t.Find(TensorRole.MlpGate), Up = t.Get(TensorRole.MlpUp), Down = down,
            GateDelta = t.Delta(TensorRole.MlpGate), UpDelta = t.Delta(TensorRole.MlpUp), DownDelta = downDelta,
        };
    }

    private static MlpWeights Halves(WeightTensor gateUp, WeightTensor down, AdapterDeltas? gateUpDelta = null, AdapterDeltas? downDelta = null)
    {
        long inter = gateUp.Shape[0] / 2;
        return new MlpWeights
        {
            Gate = gateUp.Rows(0, inter), Up = gateUp.Rows(inter, inter), Down = down,
            GateDelta = gateUpDelta?.Rows(0, (int)inter), UpDelta = gateUpDelta?.Rows((int)inter, (int)inter), DownDelta = downDelta,
        };
    }

    private static ExpertWeights LoadExperts(BambaConfig c, LayerTensors t)
    {
        var fused = t.Find(TensorRole.ExpertsGateUp);
        var fusedDown = fused is null ? default : t.Get(TensorRole.ExpertsDown);
        var experts = Enumerable.Range(0, c.NumExperts).Select(e => fused is { } gu
            ? Halves(gu.At(e), fusedDown.At(e))
            : new MlpWeights { Up = t.Get(TensorRole.ExpertUp, e), Down = t.Get(TensorRole.ExpertDown, e) }).ToArray();
        return new ExpertWeights { Router = t.Get(TensorRole.Router), RouterBias = t.OptionalVector(TensorRole.RouterBias), Experts = experts };
    }
}

public sealed class MlpWeights
{
    /// <summary>Null for a squared-ReLU MLP <c>down(relu(up·x)²)</c>; else SwiGLU <c>down(silu(gate·x) ⊙ up·x)</c>.</summary>
    public WeightTensor? Gate { get; init; }
    public required WeightTensor Up { get; init; }
    public required WeightTensor Down { get; init; }
    /// <summary>LoRA adapters' unmerged deltas, when any touch the matrix (<see cref="AdapterDeltas"/>).</summary>
    public AdapterDeltas? GateDelta { get; init; }
    public AdapterDeltas? UpDelta { get; init; }
    public AdapterDeltas? DownDelta { get; init; }
}

/// <summary>Routed experts: the router, Nemotron-H's choice bias (empty elsewhere), and each expert's MLP.</summary>
public sealed class ExpertWeights
{
    public required WeightTensor Router { get; init; }
    public required float[] RouterBias { get; init; }
    public required MlpWeights[] Experts { get; init; }
}

public sealed class AttentionWeights
{
    public required WeightTensor Q { get; init; }
    public required WeightTensor K { get; init; }
    public required WeightTensor V { get; init; }
    public required WeightTensor O { get; init; }
    public AdapterDeltas? QDelta { get; init; }
    public AdapterDeltas? KDelta { get; init; }
    public AdapterDeltas? VDelta { get; init; }
    public AdapterDeltas? ODelta { get; init; }
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
    public AdapterDeltas? InProjDelta { get; init; }
    public AdapterDeltas? OutProjDelta { get; init; }
}

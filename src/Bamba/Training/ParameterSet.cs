using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Training;

/// <summary>
/// Every tensor of a model as float32 master values with gradients, named and shaped as its family's description
/// says (a tied head has no <c>lm_head.weight</c>: the embedding serves both).
/// </summary>
public sealed class ParameterSet
{
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    private ParameterSet(BambaConfig config)
    {
        Config = config;
        Tensors = ArchitectureRegistry.TensorsOf(config);
        foreach (var s in Tensors.All) Add(new Parameter(s.Name, s.Shape, s.Decay, s.Trainable));
    }

    public BambaConfig Config { get; }
    /// <summary>The description's tensors by role.</summary>
    public TensorMap Tensors { get; }
    public List<Parameter> All { get; } = [];
    public Parameter this[string name] => _byName[name];
    public Parameter this[TensorRole role, int layer = -1, int expert = -1] => _byName[Tensors[role, layer, expert].Name];
    public Parameter? Find(TensorRole role, int layer = -1) => Tensors.Find(role, layer) is { } s ? _byName[s.Name] : null;
    public bool Contains(string name) => _byName.ContainsKey(name);
    public long Count => All.Sum(p => (long)p.Length);

    private void Add(Parameter p) { All.Add(p); _byName.Add(p.Name, p); }

    /// <summary>Float32 copies of a checkpoint's weights (the master weights when training from it).</summary>
    public static ParameterSet FromStore(BambaConfig config, WeightStore store)
    {
        var set = new ParameterSet(config);
        foreach (var p in set.All) store.Get(p.Name, p.Shape).ReadFloats(0, p.Value);
        return set;
    }

    /// <summary>A fresh model initialised as transformers' BambaPreTrainedModel does (see <see cref="Initializer"/>).</summary>
    public static ParameterSet Initialize(BambaConfig config, ulong seed)
    {
        var set = new ParameterSet(config);
        Initializer.Apply(set, seed);
        return set;
    }

    public void ZeroGrad()
    {
        foreach (var p in All) Array.Clear(p.Grad);
    }

    /// <summary>The embedding's values serve as the head when tied.</summary>
    public Parameter Head => this[Config.TieWordEmbeddings ? TensorRole.Embedding : TensorRole.LmHead];
}

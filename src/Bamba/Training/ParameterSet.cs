using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Training;

/// <summary>
/// Every trainable tensor of a Bamba model, named and shaped as transformers names and shapes them
/// (a tied head has no <c>lm_head.weight</c>: the embedding serves both).
/// </summary>
public sealed class ParameterSet
{
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    private ParameterSet(BambaConfig config)
    {
        Config = config;
        foreach (var (name, shape, decay) in Layout(config)) Add(new Parameter(name, shape, decay));
    }

    public BambaConfig Config { get; }
    public List<Parameter> All { get; } = [];
    public Parameter this[string name] => _byName[name];
    public bool Contains(string name) => _byName.ContainsKey(name);
    public long Count => All.Sum(p => (long)p.Length);

    private void Add(Parameter p) { All.Add(p); _byName.Add(p.Name, p); }

    /// <summary>Names, shapes and decay flags in the order transformers lists the parameters.</summary>
    public static IEnumerable<(string Name, long[] Shape, bool Decay)> Layout(BambaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, inter = c.IntermediateSize;
        yield return ("model.embed_tokens.weight", [v, h], true);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            if (c.IsAttentionLayer(i))
            {
                long q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
                yield return (p + "self_attn.q_proj.weight", [q, h], true);
                yield return (p + "self_attn.k_proj.weight", [kv, h], true);
                yield return (p + "self_attn.v_proj.weight", [kv, h], true);
                yield return (p + "self_attn.o_proj.weight", [h, q], true);
            }
            else
            {
                long heads = c.MambaNHeads;
                yield return (p + "mamba.in_proj.weight", [c.InProjDim, h], true);
                if (c.MambaProjBias) yield return (p + "mamba.in_proj.bias", [c.InProjDim], false);
                yield return (p + "mamba.conv1d.weight", [c.ConvDim, 1, c.MambaDConv], true);
                if (c.MambaConvBias) yield return (p + "mamba.conv1d.bias", [c.ConvDim], false);
                yield return (p + "mamba.dt_bias", [heads], false);
                yield return (p + "mamba.A_log", [heads], false);
                yield return (p + "mamba.D", [heads], false);
                yield return (p + "mamba.norm.weight", [c.MambaIntermediate], false);
                yield return (p + "mamba.out_proj.weight", [h, c.MambaIntermediate], true);
                if (c.MambaProjBias) yield return (p + "mamba.out_proj.bias", [h], false);
            }
            yield return (p + "feed_forward.gate_proj.weight", [inter, h], true);
            yield return (p + "feed_forward.up_proj.weight", [inter, h], true);
            yield return (p + "feed_forward.down_proj.weight", [h, inter], true);
            yield return (p + "input_layernorm.weight", [h], false);
            yield return (p + "pre_ff_layernorm.weight", [h], false);
        }
        yield return ("model.final_layernorm.weight", [h], false);
        if (!c.TieWordEmbeddings) yield return ("lm_head.weight", [v, h], true);
    }

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
    public Parameter Head => Config.TieWordEmbeddings ? this["model.embed_tokens.weight"] : this["lm_head.weight"];
}

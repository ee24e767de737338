using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Which llama.cpp architecture holds each family, and the metadata it reads (src/models/granite-hybrid.cpp and
/// nemotron-h.cpp, as conversion/granite.py and nemotron.py write it): Bamba and Granite 4.0 H are
/// <c>granitehybrid</c> (per-layer <c>attention.head_count_kv</c>, 0 for Mamba layers; Granite's multipliers as
/// <c>*_scale</c>; <c>rope.scaling.finetuned</c> switches RoPE), Nemotron-H is <c>nemotron_h</c>, or
/// <c>nemotron_h_moe</c> with experts (per-layer <c>feed_forward_length</c> too: a layer with neither is Mamba).
/// HF fields llama.cpp has no key for (chunk size, time-step limits, token ids, dtype) travel in
/// <c>bamba.config</c>, the whole config.json; the standard keys override it (<see cref="GgufConfigReader"/>).
/// </summary>
public static class GgufArchitecture
{
    public const string GraniteHybrid = "granitehybrid", NemotronH = "nemotron_h", NemotronHMoe = "nemotron_h_moe";
    public const string ConfigKey = "bamba.config";

    public static bool IsNemotron(BambaConfig c) => c.ModelType == "nemotron_h";

    public static string NameOf(BambaConfig c) => IsNemotron(c) ? (c.HasMixtureOfExperts ? NemotronHMoe : NemotronH) : GraniteHybrid;

    public static List<KeyValuePair<string, GgufValue>> ToMetadata(BambaConfig c, string name, GgufFileType type)
    {
        string a = NameOf(c);
        var kv = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue v) => kv.Add(new(key, v));
        void PerLayer(string key, Func<int, int> value) => Add($"{a}.{key}", GgufValue.Int32Array(Enumerable.Range(0, c.NumHiddenLayers).Select(i => (long)value(i)).ToArray()));
        Add("general.architecture", GgufValue.String(a));
        Add("general.name", GgufValue.String(name));
        Add("general.file_type", GgufValue.UInt32(type.LlamaFtype));
        if (type.IsQuantized) Add("general.quantization_version", GgufValue.UInt32(2));
        Add($"{a}.vocab_size", GgufValue.UInt32(c.VocabSize));
        Add($"{a}.context_length", GgufValue.UInt32(c.MaxPositionEmbeddings));
        Add($"{a}.embedding_length", GgufValue.UInt32(c.HiddenSize));
        Add($"{a}.block_count", GgufValue.UInt32(c.NumHiddenLayers));
        Add($"{a}.attention.head_count", GgufValue.UInt32(c.NumAttentionHeads));
        PerLayer("attention.head_count_kv", i => c.IsAttentionLayer(i) ? c.NumKeyValueHeads : 0);
        Add($"{a}.attention.key_length", GgufValue.UInt32(c.HeadDim));
        Add($"{a}.attention.value_length", GgufValue.UInt32(c.HeadDim));
        Add($"{a}.attention.layer_norm_rms_epsilon", GgufValue.Float32(c.RmsNormEps));
        Add($"{a}.ssm.conv_kernel", GgufValue.UInt32(c.MambaDConv));
        Add($"{a}.ssm.state_size", GgufValue.UInt32(c.MambaDState));
        Add($"{a}.ssm.group_count", GgufValue.UInt32(c.MambaNGroups));
        Add($"{a}.ssm.inner_size", GgufValue.UInt32(c.MambaIntermediate));
        Add($"{a}.ssm.time_step_rank", GgufValue.UInt32(c.MambaNHeads));
        if (IsNemotron(c))
        {
            // Required by llama.cpp's loader (the MTP head's final norm); the converter writes layer_norm_epsilon there.
            Add($"{a}.attention.layer_norm_epsilon", GgufValue.Float32(c.RmsNormEps));
            PerLayer("feed_forward_length", i => c.Layers[i].FeedForward switch
            {
                FeedForwardKind.Mlp => c.IntermediateSize,
                FeedForwardKind.MixtureOfExperts => c.ExpertIntermediateSize,
                _ => 0,
            });
            if (c.HasMixtureOfExperts) NemotronExperts(c, a, Add);
        }
        else GraniteHybridKeys(c, a, Add);
        Add(ConfigKey, GgufValue.String(BambaConfigWriter.ToJson(c).ToJsonString()));
        return kv;
    }

    private static void GraniteHybridKeys(BambaConfig c, string a, Action<string, GgufValue> add)
    {
        bool experts = c.HasMixtureOfExperts;
        // llama.cpp sizes ffn_gate/up/down of a dense layer by feed_forward_length: Granite's shared MLP there.
        add($"{a}.feed_forward_length", GgufValue.UInt32(experts ? c.ExpertIntermediateSize : c.DenseMlpSize));
        add($"{a}.rope.freq_base", GgufValue.Float32(c.RopeTheta));
        add($"{a}.rope.dimension_count", GgufValue.UInt32(c.RotaryDim));
        add($"{a}.rope.scaling.finetuned", GgufValue.Bool(c.UseRope));
        if (experts)
        {
            add($"{a}.expert_count", GgufValue.UInt32(c.NumExperts));
            add($"{a}.expert_used_count", GgufValue.UInt32(c.NumExpertsPerToken));
            add($"{a}.expert_shared_feed_forward_length", GgufValue.UInt32(c.DenseMlpSize));
        }
        // llama.cpp reads 0 (absent) as "no multiplier"; 1 would mean the same, so only real multipliers are written.
        if (c.EmbeddingMultiplier != 1) add($"{a}.embedding_scale", GgufValue.Float32(c.EmbeddingMultiplier));
        if (c.ResidualMultiplier != 1) add($"{a}.residual_scale", GgufValue.Float32(c.ResidualMultiplier));
        if (c.LogitsScaling != 1) add($"{a}.logit_scale", GgufValue.Float32(c.LogitsScaling));
        if (c.AttentionScale is double scale) add($"{a}.attention.scale", GgufValue.Float32(scale));
    }

    private static void NemotronExperts(BambaConfig c, string a, Action<string, GgufValue> add)
    {
        add($"{a}.expert_count", GgufValue.UInt32(c.NumExperts));
        add($"{a}.expert_used_count", GgufValue.UInt32(c.NumExpertsPerToken));
        add($"{a}.expert_feed_forward_length", GgufValue.UInt32(c.ExpertIntermediateSize));
        add($"{a}.expert_shared_feed_forward_length", GgufValue.UInt32(c.SharedExpertIntermediateSize));
        add($"{a}.expert_shared_count", GgufValue.UInt32(c.SharedExpertIntermediateSize > 0 ? 1 : 0));
        add($"{a}.expert_weights_norm", GgufValue.Bool(c.NormalizeTopKWeights));
        add($"{a}.expert_weights_scale", GgufValue.Float32(c.RoutedScalingFactor));
        add($"{a}.expert_group_count", GgufValue.UInt32(c.RouterGroups));
        add($"{a}.expert_group_used_count", GgufValue.UInt32(c.RouterTopKGroups));
    }
}

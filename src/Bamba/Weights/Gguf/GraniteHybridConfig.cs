using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Bamba's config ↔ the <c>granitehybrid.*</c> metadata llama.cpp reads (src/models/granite-hybrid.cpp,
/// conversion/granite.py): per-layer <c>attention.head_count_kv</c> with 0 for Mamba layers, <c>ssm.*</c> sizes,
/// <c>rope.dimension_count</c> = the rotated dims of a head. HF fields llama.cpp has no key for (chunk size,
/// time_step_limit, token ids, dtype) travel in <c>bamba.config</c>, the whole config.json, which the standard keys override.
/// </summary>
public static class GraniteHybridConfig
{
    private const string A = GraniteHybridNames.Architecture;
    public const string ConfigKey = "bamba.config";

    public static List<KeyValuePair<string, GgufValue>> ToMetadata(BambaConfig c, string name, GgufFileType type)
    {
        var kv = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue v) => kv.Add(new(key, v));
        Add("general.architecture", GgufValue.String(A));
        Add("general.name", GgufValue.String(name));
        Add("general.file_type", GgufValue.UInt32(type.LlamaFtype));
        if (type.IsQuantized) Add("general.quantization_version", GgufValue.UInt32(2));
        Add($"{A}.vocab_size", GgufValue.UInt32(c.VocabSize));
        Add($"{A}.context_length", GgufValue.UInt32(c.MaxPositionEmbeddings));
        Add($"{A}.embedding_length", GgufValue.UInt32(c.HiddenSize));
        Add($"{A}.block_count", GgufValue.UInt32(c.NumHiddenLayers));
        Add($"{A}.feed_forward_length", GgufValue.UInt32(c.IntermediateSize));
        Add($"{A}.attention.head_count", GgufValue.UInt32(c.NumAttentionHeads));
        Add($"{A}.attention.head_count_kv", GgufValue.Int32Array(
            Enumerable.Range(0, c.NumHiddenLayers).Select(i => c.IsAttentionLayer(i) ? (long)c.NumKeyValueHeads : 0).ToArray()));
        Add($"{A}.attention.key_length", GgufValue.UInt32(c.HeadDim));
        Add($"{A}.attention.value_length", GgufValue.UInt32(c.HeadDim));
        Add($"{A}.attention.layer_norm_rms_epsilon", GgufValue.Float32(c.RmsNormEps));
        Add($"{A}.rope.freq_base", GgufValue.Float32(c.RopeTheta));
        Add($"{A}.rope.dimension_count", GgufValue.UInt32(c.RotaryDim));
        Add($"{A}.rope.scaling.finetuned", GgufValue.Bool(true));
        Add($"{A}.ssm.conv_kernel", GgufValue.UInt32(c.MambaDConv));
        Add($"{A}.ssm.state_size", GgufValue.UInt32(c.MambaDState));
        Add($"{A}.ssm.group_count", GgufValue.UInt32(c.MambaNGroups));
        Add($"{A}.ssm.inner_size", GgufValue.UInt32(c.MambaIntermediate));
        Add($"{A}.ssm.time_step_rank", GgufValue.UInt32(c.MambaNHeads));
        Add(ConfigKey, GgufValue.String(BambaConfigWriter.ToJson(c).ToJsonString()));
        return kv;
    }

    /// <summary>The config a granitehybrid file describes; <paramref name="has"/> says whether a tensor is in the file.</summary>
    public static BambaConfig FromMetadata(GgufMetadata m, Func<string, bool> has, string path)
    {
        string arch = m.String("general.architecture");
        if (arch != A) throw new BambaException($"{path}: architecture '{arch}' is not supported (bamba reads '{A}')");
        foreach (string key in new[] { "expert_count", "embedding_scale", "residual_scale", "logit_scale", "attention.scale" })
            if (m.Has($"{A}.{key}") && m.Number($"{A}.{key}") != 0)
                throw new BambaException($"{path}: '{A}.{key}' belongs to Granite 4.0 H, which bamba cannot run yet (Bamba only)");
        var b = m.OptionalString(ConfigKey) is { } json ? BambaConfigReader.Parse(json, $"{path}: {ConfigKey}") : new BambaConfig { MambaChunkSize = 256 };
        int layers = m.Int($"{A}.block_count"), hidden = m.Int($"{A}.embedding_length"), heads = m.Int($"{A}.attention.head_count");
        int inner = m.Int($"{A}.ssm.inner_size"), ssmHeads = m.Int($"{A}.ssm.time_step_rank");
        var kv = m.PerLayer($"{A}.attention.head_count_kv", layers);
        var attention = Enumerable.Range(0, layers).Where(i => kv[i] > 0).ToArray();
        int headDim = m.OptionalInt($"{A}.attention.key_length") ?? (heads > 0 ? hidden / heads : 0);
        int rotary = m.OptionalInt($"{A}.rope.dimension_count") ?? headDim;
        var c = b with
        {
            VocabSize = m.OptionalInt($"{A}.vocab_size") ?? b.VocabSize,
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            IntermediateSize = m.Int($"{A}.feed_forward_length"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = attention.Length > 0 ? kv[attention[0]] : b.NumKeyValueHeads,
            AttnLayerIndices = attention,
            MaxPositionEmbeddings = m.OptionalInt($"{A}.context_length") ?? b.MaxPositionEmbeddings,
            RmsNormEps = Float32(m.Number($"{A}.attention.layer_norm_rms_epsilon"), b.RmsNormEps),
            RopeTheta = Float32(m.OptionalNumber($"{A}.rope.freq_base") ?? b.RopeTheta, b.RopeTheta),
            PartialRotaryFactor = headDim > 0 ? (double)rotary / headDim : b.PartialRotaryFactor,
            MambaDConv = m.Int($"{A}.ssm.conv_kernel"),
            MambaDState = m.Int($"{A}.ssm.state_size"),
            MambaNGroups = m.Int($"{A}.ssm.group_count"),
            MambaNHeads = ssmHeads,
            MambaDHead = ssmHeads > 0 ? inner / ssmHeads : 0,
            MambaExpand = hidden > 0 ? inner / hidden : 0,
            TieWordEmbeddings = !has("output.weight"),
            MambaConvBias = has($"blk.{FirstMamba(layers, attention)}.ssm_conv1d.bias"),
            MambaProjBias = has($"blk.{FirstMamba(layers, attention)}.ssm_in.bias"),
        };
        if (attention.Any(i => kv[i] != c.NumKeyValueHeads)) throw new BambaException($"{path}: attention layers with different KV head counts are not supported");
        if (c.MambaIntermediate != inner) throw new BambaException($"{path}: ssm.inner_size {inner} is not a multiple of embedding_length {hidden}");
        if (c.HeadDim != headDim) throw new BambaException($"{path}: attention.key_length {headDim} differs from embedding_length / head_count ({c.HeadDim})");
        // Through config.json once more, so the reader's validation covers a config made from metadata too.
        return BambaConfigReader.Parse(BambaConfigWriter.ToJson(c).ToJsonString(), $"{path} (metadata)");
    }

    /// <summary>A float32 key's value, or the config's double when it rounds to the same float (so a round trip keeps 1e-5, not 9.9999997e-6).</summary>
    private static double Float32(double stored, double config) => (float)stored == (float)config ? config : stored;

    private static int FirstMamba(int layers, int[] attention) => Enumerable.Range(0, layers).FirstOrDefault(i => !attention.Contains(i));
}

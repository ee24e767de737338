using System.Text.Json.Nodes;
using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// The config a GGUF file describes. The family's config.json is rebuilt from the standard keys llama.cpp reads, laid
/// over <c>bamba.config</c> when the file has one (bamba's own files: the fields llama.cpp has no key for), and read
/// by <see cref="BambaConfigReader"/>, so a config from metadata is validated like any config.json.
/// </summary>
public static class GgufConfigReader
{
    /// <param name="has">Whether a tensor is in the file (biases, a tied head, which feed-forward layers route).</param>
    public static BambaConfig Read(GgufMetadata m, Func<string, bool> has, string path)
    {
        string arch = m.String("general.architecture");
        if (arch is not (GgufArchitecture.GraniteHybrid or GgufArchitecture.NemotronH or GgufArchitecture.NemotronHMoe))
            throw new BambaException($"{path}: architecture '{arch}' is not supported (bamba reads {GgufArchitecture.GraniteHybrid}, {GgufArchitecture.NemotronH} and {GgufArchitecture.NemotronHMoe})");
        var json = m.OptionalString(GgufArchitecture.ConfigKey) is { } text ? Object(text, path) : new JsonObject();
        var o = new Overlay(json);
        int layers = m.Int($"{arch}.block_count");
        var kv = m.PerLayer($"{arch}.attention.head_count_kv", layers);
        int firstMamba = Enumerable.Range(0, layers).FirstOrDefault(i => kv[i] == 0);
        Common(o, m, arch, kv, has, firstMamba, path);
        if (arch == GgufArchitecture.GraniteHybrid) GraniteHybrid(o, m, arch, kv);
        else Nemotron(o, m, arch, kv, has);
        var config = BambaConfigReader.Parse(json.ToJsonString(), $"{path} (metadata)");
        // Bamba's config reader fixes RoPE to half a head, as transformers does; a file says how much llama.cpp rotates.
        if (config.UseRope && m.OptionalInt($"{arch}.rope.dimension_count") is int rotary && config.HeadDim > 0)
            config = config with { PartialRotaryFactor = (double)rotary / config.HeadDim };
        Check(config, m, arch, path);
        return config;
    }

    private static JsonObject Object(string text, string path)
    {
        try { return JsonNode.Parse(BambaConfigReader.QuoteNonFiniteLiterals(text))?.AsObject() ?? throw new BambaException($"{path}: {GgufArchitecture.ConfigKey} is not a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw new BambaException($"{path}: {GgufArchitecture.ConfigKey} is not valid JSON ({e.Message})"); }
        catch (InvalidOperationException) { throw new BambaException($"{path}: {GgufArchitecture.ConfigKey} is not a JSON object"); }
    }

    private static void Common(Overlay o, GgufMetadata m, string a, int[] kv, Func<string, bool> has, int firstMamba, string path)
    {
        int hidden = m.Int($"{a}.embedding_length"), inner = m.Int($"{a}.ssm.inner_size"), ssmHeads = m.Int($"{a}.ssm.time_step_rank");
        o.Int("hidden_size", hidden);
        o.Int("num_hidden_layers", kv.Length);
        o.Int("num_attention_heads", m.Int($"{a}.attention.head_count"));
        if (kv.FirstOrDefault(n => n > 0) is int heads and > 0) o.Int("num_key_value_heads", heads);
        o.Int("vocab_size", m.OptionalInt($"{a}.vocab_size") ?? m.OptionalStrings("tokenizer.ggml.tokens")?.Length
            ?? throw new BambaException($"{path}: missing metadata key '{a}.vocab_size'"));
        if (m.OptionalInt($"{a}.context_length") is int context) o.Int("max_position_embeddings", context);
        o.Bool("tie_word_embeddings", !has("output.weight"));
        bool nemotron = a != GgufArchitecture.GraniteHybrid;
        o.Int(nemotron ? "conv_kernel" : "mamba_d_conv", m.Int($"{a}.ssm.conv_kernel"));
        o.Int(nemotron ? "ssm_state_size" : "mamba_d_state", m.Int($"{a}.ssm.state_size"));
        o.Int(nemotron ? "n_groups" : "mamba_n_groups", m.Int($"{a}.ssm.group_count"));
        o.Int(nemotron ? "mamba_num_heads" : "mamba_n_heads", ssmHeads);
        if (ssmHeads > 0) o.Int(nemotron ? "mamba_head_dim" : "mamba_d_head", inner / ssmHeads);
        if (hidden > 0 && inner % hidden == 0) o.Int(nemotron ? "expand" : "mamba_expand", inner / hidden);
        o.Bool(nemotron ? "use_conv_bias" : "mamba_conv_bias", has($"blk.{firstMamba}.ssm_conv1d.bias"));
        o.Bool(nemotron ? "use_bias" : "mamba_proj_bias", has($"blk.{firstMamba}.ssm_in.bias"));
    }

    private static void GraniteHybrid(Overlay o, GgufMetadata m, string a, int[] kv)
    {
        int experts = m.OptionalInt($"{a}.expert_count") ?? 0;
        bool rope = m.OptionalBool($"{a}.rope.scaling.finetuned") ?? true;
        bool granite = (string?)o.Json["model_type"] == "granitemoehybrid" || (o.Json["model_type"] is null
            && (experts > 0 || !rope || new[] { "embedding_scale", "residual_scale", "logit_scale", "attention.scale" }.Any(k => m.Has($"{a}.{k}"))));
        o.Json["model_type"] = granite ? "granitemoehybrid" : "bamba";
        o.Number("rms_norm_eps", m.Number($"{a}.attention.layer_norm_rms_epsilon"));
        if (m.OptionalNumber($"{a}.rope.freq_base") is double theta) o.RopeTheta(theta);
        int ff = m.Int($"{a}.feed_forward_length");
        if (!granite)
        {
            o.Json["attn_layer_indices"] = new JsonArray(Enumerable.Range(0, kv.Length).Where(i => kv[i] > 0).Select(i => (JsonNode)i).ToArray());
            o.Int("intermediate_size", ff);
            return;
        }
        o.Json["layer_types"] = new JsonArray(kv.Select(n => (JsonNode)(n > 0 ? "attention" : "mamba")).ToArray());
        o.Json.Remove("layers_block_type");
        o.Int("num_local_experts", experts);
        o.Json["position_embedding_type"] = rope ? "rope" : null;
        if (experts > 0)
        {
            o.Int("intermediate_size", ff);
            o.Int("num_experts_per_tok", m.Int($"{a}.expert_used_count"));
            o.Int("shared_intermediate_size", m.Int($"{a}.expert_shared_feed_forward_length"));
        }
        else o.Int("shared_intermediate_size", ff);
        o.Number("embedding_multiplier", m.OptionalNumber($"{a}.embedding_scale") ?? 1);
        o.Number("residual_multiplier", m.OptionalNumber($"{a}.residual_scale") ?? 1);
        o.Number("logits_scaling", m.OptionalNumber($"{a}.logit_scale") ?? 1);
        // Without attention.scale llama.cpp scales by head_dim^-0.5, which Granite spells as that multiplier.
        int headDim = m.OptionalInt($"{a}.attention.key_length") ?? m.Int($"{a}.embedding_length") / Math.Max(1, m.Int($"{a}.attention.head_count"));
        o.Number("attention_multiplier", m.OptionalNumber($"{a}.attention.scale") ?? 1 / Math.Sqrt(headDim));
    }

    private static void Nemotron(Overlay o, GgufMetadata m, string a, int[] kv, Func<string, bool> has)
    {
        o.Json["model_type"] = "nemotron_h";
        var ff = m.PerLayer($"{a}.feed_forward_length", kv.Length);
        // llama.cpp routes every feed-forward layer of a file with experts; bamba's files mark plain MLP layers by
        // their missing router.
        string Block(int i) => kv[i] > 0 ? "attention" : ff[i] == 0 ? "mamba" : has($"blk.{i}.ffn_gate_inp.weight") ? "moe" : "mlp";
        var plan = Enumerable.Range(0, kv.Length).Select(Block).ToArray();
        o.Json["layers_block_type"] = new JsonArray(plan.Select(n => (JsonNode)n).ToArray());
        o.Json.Remove("hybrid_override_pattern");
        o.Number("layer_norm_epsilon", m.Number($"{a}.attention.layer_norm_rms_epsilon"));
        if (m.OptionalInt($"{a}.attention.key_length") is int headDim) o.Int("head_dim", headDim);
        if (Array.IndexOf(plan, "mlp") is int mlp and >= 0) o.Int("intermediate_size", ff[mlp]);
        if (!plan.Contains("moe")) return;
        o.Int("n_routed_experts", m.Int($"{a}.expert_count"));
        o.Int("num_experts_per_tok", m.Int($"{a}.expert_used_count"));
        o.Int("moe_intermediate_size", m.OptionalInt($"{a}.expert_feed_forward_length") ?? ff[Array.IndexOf(plan, "moe")]);
        o.Int("moe_shared_expert_intermediate_size", m.OptionalInt($"{a}.expert_shared_feed_forward_length") ?? 0);
        o.Int("n_shared_experts", m.OptionalInt($"{a}.expert_shared_count") ?? 1);
        o.Bool("norm_topk_prob", m.OptionalBool($"{a}.expert_weights_norm") ?? false);
        o.Number("routed_scaling_factor", m.OptionalNumber($"{a}.expert_weights_scale") ?? 1);
        o.Int("n_group", Math.Max(1, m.OptionalInt($"{a}.expert_group_count") ?? 1));
        o.Int("topk_group", Math.Max(1, m.OptionalInt($"{a}.expert_group_used_count") ?? 1));
    }

    /// <summary>What the config cannot say differently from the file without computing another model.</summary>
    private static void Check(BambaConfig c, GgufMetadata m, string a, string path)
    {
        if (m.Int($"{a}.ssm.inner_size") != c.MambaIntermediate)
            throw new BambaException($"{path}: ssm.inner_size {m.Int($"{a}.ssm.inner_size")} is not time_step_rank × a whole head size");
        if (m.OptionalInt($"{a}.attention.key_length") is int k && c.NumAttentionLayers > 0 && k != c.HeadDim)
            throw new BambaException($"{path}: attention.key_length {k} differs from the head size the config implies ({c.HeadDim})");
        var kv = m.PerLayer($"{a}.attention.head_count_kv", c.NumHiddenLayers);
        if (Enumerable.Range(0, c.NumHiddenLayers).Any(i => kv[i] > 0 && kv[i] != c.NumKeyValueHeads))
            throw new BambaException($"{path}: attention layers with different KV head counts are not supported");
    }

    /// <summary>Config.json fields set from metadata; a float32 key keeps the config's double when it rounds to the
    /// same float (a round trip keeps 1e-5, not 9.9999997e-6).</summary>
    private sealed class Overlay(JsonObject json)
    {
        public JsonObject Json => json;
        public void Int(string field, int value) => json[field] = value;
        public void Bool(string field, bool value) => json[field] = value;

        public void Number(string field, double stored)
        {
            if (json[field] is JsonValue v && v.TryGetValue(out double old) && (float)old == (float)stored) return;
            json[field] = stored;
        }

        public void RopeTheta(double theta)
        {
            if (json["rope_parameters"] is JsonObject rope) new Overlay(rope).Number("rope_theta", theta);
            else if (json["model_type"]?.ToString() == "bamba" || json.ContainsKey("rope_theta")) Number("rope_theta", theta);
            else json["rope_parameters"] = new JsonObject { ["rope_theta"] = theta, ["rope_type"] = "default" };
        }
    }
}

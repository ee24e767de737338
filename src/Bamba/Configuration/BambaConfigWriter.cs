using System.Text.Json;
using System.Text.Json.Nodes;
using Bamba.Architectures;

namespace Bamba.Configuration;

/// <summary>Writes a <see cref="BambaConfig"/> as transformers' config.json (the field names and layout save_pretrained uses).</summary>
public static class BambaConfigWriter
{
    public static void Save(BambaConfig c, string path) =>
        File.WriteAllText(path, ToJson(c).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>The config as its family writes it (<see cref="IArchitecture.WriteConfig"/>).</summary>
    public static JsonObject ToJson(BambaConfig c) => ArchitectureRegistry.For(c).WriteConfig(c);

    /// <summary>The config.json the config was read from, with its dtype updated.</summary>
    public static JsonObject FromSource(BambaConfig c)
    {
        if (c.Source is null)
            throw new BambaException($"a '{c.ModelType}' config made in code cannot be written: only Bamba's is written field by field");
        var json = JsonNode.Parse(BambaConfigReader.QuoteNonFiniteLiterals(c.Source.Json))!.AsObject();
        json["dtype"] = c.Dtype ?? "float32";
        json.Remove("torch_dtype");
        // Every writer stores float tensors: an FP8 source's quantization_config would describe tensors no longer there.
        json.Remove("quantization_config");
        return json;
    }

    /// <summary>A Bamba config in transformers' field names and layout.</summary>
    public static JsonObject FieldByField(BambaConfig c) => new()
    {
        ["architectures"] = new JsonArray("BambaForCausalLM"),
        ["attention_bias"] = false,
        ["attention_dropout"] = Float(c.AttentionDropout),
        ["attn_layer_indices"] = new JsonArray(c.AttnLayerIndices.Select(i => (JsonNode)i).ToArray()),
        ["bos_token_id"] = c.BosTokenId,
        ["dtype"] = c.Dtype ?? "float32",
        ["eos_token_id"] = c.EosTokenIds.Count == 1 ? c.EosTokenIds[0] : new JsonArray(c.EosTokenIds.Select(i => (JsonNode)i).ToArray()),
        ["hidden_act"] = c.HiddenAct,
        ["hidden_size"] = c.HiddenSize,
        ["initializer_range"] = Float(c.InitializerRange),
        ["intermediate_size"] = c.IntermediateSize,
        ["mamba_chunk_size"] = c.MambaChunkSize,
        ["mamba_conv_bias"] = c.MambaConvBias,
        ["mamba_d_conv"] = c.MambaDConv,
        ["mamba_d_head"] = c.MambaDHead,
        ["mamba_d_state"] = c.MambaDState,
        ["mamba_expand"] = c.MambaExpand,
        ["mamba_n_groups"] = c.MambaNGroups,
        ["mamba_n_heads"] = c.MambaNHeads,
        ["mamba_proj_bias"] = c.MambaProjBias,
        ["max_position_embeddings"] = c.MaxPositionEmbeddings,
        ["mlp_bias"] = false,
        ["model_type"] = "bamba",
        ["num_attention_heads"] = c.NumAttentionHeads,
        ["num_hidden_layers"] = c.NumHiddenLayers,
        ["num_key_value_heads"] = c.NumKeyValueHeads,
        ["num_logits_to_keep"] = c.NumLogitsToKeep,
        ["pad_token_id"] = c.PadTokenId,
        ["partial_rotary_factor"] = Float(c.PartialRotaryFactor),
        ["rms_norm_eps"] = Float(c.RmsNormEps),
        ["rope_parameters"] = new JsonObject
        {
            ["partial_rotary_factor"] = Float(c.PartialRotaryFactor),
            ["rope_theta"] = Float(c.RopeTheta),
            ["rope_type"] = c.RopeType,
        },
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
        ["time_step_limit"] = new JsonArray(Float(c.TimeStepLimitMin), Float(c.TimeStepLimitMax)),
        ["time_step_max"] = Float(c.TimeStepMax),
        ["time_step_min"] = Float(c.TimeStepMin),
        ["use_cache"] = c.UseCache,
        ["vocab_size"] = c.VocabSize,
        ["z_loss_coefficient"] = Float(c.ZLossCoefficient),
    };

    /// <summary>
    /// A float as Python writes one: always with a decimal point or exponent (transformers' strict config validation
    /// rejects <c>0</c> where a float is typed, e.g. in time_step_limit), non-finite values as transformers encodes them.
    /// </summary>
    private static JsonNode Float(double v)
    {
        if (!double.IsFinite(v))
            return new JsonObject { ["__float__"] = double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity" };
        string text = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (text.IndexOfAny(['.', 'E', 'e']) < 0) text += ".0";
        return JsonNode.Parse(text)!; // keeps the literal text when written
    }
}

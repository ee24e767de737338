using System.Text.Json.Nodes;

namespace Bamba.Weights.CompressedTensors;

/// <summary>
/// The quantization_config <c>bamba quantize --fp8</c> writes, field for field as compressed-tensors serializes a
/// QuantizationConfig whose one group targets Linear (so vLLM, llm-compressor and transformers read it): weights
/// 8-bit float, symmetric, per channel, static (minmax observer); inputs per token and dynamic (FP8_DYNAMIC) or per
/// tensor and static (FP8).
/// </summary>
public static class Fp8Config
{
    public static JsonObject Describe(ActivationScheme inputs, IEnumerable<string> ignore) => new()
    {
        ["config_groups"] = new JsonObject
        {
            ["group_0"] = new JsonObject
            {
                ["format"] = QuantizationConfig.Format,
                ["input_activations"] = Args(inputs == ActivationScheme.Dynamic ? "token" : "tensor", dynamic: inputs == ActivationScheme.Dynamic),
                ["output_activations"] = null,
                ["targets"] = new JsonArray("Linear"),
                ["weights"] = Args("channel", dynamic: false),
            },
        },
        ["format"] = QuantizationConfig.Format,
        ["global_compression_ratio"] = null,
        ["ignore"] = new JsonArray(ignore.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()),
        ["kv_cache_scheme"] = null,
        ["quant_method"] = QuantizationConfig.Method,
        ["quantization_status"] = "compressed",
    };

    private static JsonObject Args(string strategy, bool dynamic) => new()
    {
        ["actorder"] = null,
        ["block_structure"] = null,
        ["dynamic"] = dynamic,
        ["group_size"] = null,
        ["num_bits"] = 8,
        ["observer"] = dynamic ? null : "minmax",
        ["observer_kwargs"] = new JsonObject(),
        ["strategy"] = strategy,
        ["symmetric"] = true,
        ["type"] = "float",
    };
}

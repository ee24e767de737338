using System.Text.Json;
using System.Text.RegularExpressions;

namespace Bamba.Weights.CompressedTensors;

/// <summary>How a group's weights are scaled: one scale for the tensor, or one per output channel (row).</summary>
public enum WeightStrategy { Tensor, Channel }

/// <summary>A group's input activations: unquantized, FP8 with a calibrated per-tensor input_scale, or FP8 per token at run time.</summary>
public enum ActivationScheme { None, Static, Dynamic }

/// <summary>One entry of config_groups: the modules it targets and how they are quantized.</summary>
public sealed record ConfigGroup(string Name, IReadOnlyList<string> Targets, WeightStrategy Weights, ActivationScheme Inputs);

/// <summary>
/// config.json's <c>quantization_config</c> as compressed-tensors writes it for llm-compressor's FP8 and FP8_DYNAMIC
/// schemes (quant_method <c>compressed-tensors</c>, format <c>float-quantized</c>): 8-bit float, symmetric weights per
/// tensor or per channel; input activations absent, static per tensor or dynamic per token (or tensor). Anything else
/// (int or 4-bit types, group/block strategies, other formats, output or KV-cache quantization) is refused by name.
/// </summary>
public sealed record QuantizationConfig(IReadOnlyList<ConfigGroup> Groups, IReadOnlyList<string> Ignore)
{
    public const string Method = "compressed-tensors", Format = "float-quantized";

    /// <summary>The quantization_config of a config.json root object; null when it has none.</summary>
    public static QuantizationConfig? Read(JsonElement root, string source)
    {
        if (!root.TryGetProperty("quantization_config", out var q) || q.ValueKind == JsonValueKind.Null) return null;
        var r = new Reader(source);
        if (q.ValueKind != JsonValueKind.Object) throw r.Bad("quantization_config", "must be an object");
        string method = r.String(q, "quantization_config", "quant_method");
        if (method != Method) throw r.Unsupported("quantization_config.quant_method", method, $"only {Method} is read");
        CheckFormat(r, q, "quantization_config", required: true);
        if (q.TryGetProperty("kv_cache_scheme", out var kv) && kv.ValueKind != JsonValueKind.Null)
            throw r.Unsupported("quantization_config.kv_cache_scheme", "a KV-cache scheme", "FP8 KV caches are not read");
        if (!q.TryGetProperty("config_groups", out var groups) || groups.ValueKind != JsonValueKind.Object || !groups.EnumerateObject().Any())
            throw r.Bad("quantization_config.config_groups", "must be an object of one or more groups");
        return new QuantizationConfig(
            groups.EnumerateObject().Select(g => ReadGroup(r, g.Name, g.Value)).ToArray(),
            r.Patterns(q, "quantization_config.ignore", "ignore"));
    }

    /// <summary>The group whose targets match <paramref name="module"/>, unless ignore lists it; null when none does.</summary>
    /// <param name="isLinear">Whether the module is an nn.Linear (the class name targets and ignores may give).</param>
    public ConfigGroup? GroupOf(string module, bool isLinear)
    {
        if (Ignore.Any(p => Matches(p, module, isLinear))) return null;
        return Groups.FirstOrDefault(g => g.Targets.Any(t => Matches(t, module, isLinear)));
    }

    /// <summary>compressed-tensors' rule: "re:" + a regular expression matched at the start of the name, else the exact
    /// module name or class name.</summary>
    private static bool Matches(string pattern, string module, bool isLinear)
    {
        if (!pattern.StartsWith("re:", StringComparison.Ordinal)) return pattern == module || (pattern == "Linear" && isLinear);
        try { return Regex.IsMatch(module, Anchored(pattern), RegexOptions.None, PatternTimeout); }
        catch (RegexMatchTimeoutException) { throw new BambaException($"quantization_config: pattern '{pattern}' took too long on '{module}'"); }
    }

    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);

    private static string Anchored(string pattern) => @"\A(?:" + pattern[3..] + ")";

    private static ConfigGroup ReadGroup(Reader r, string name, JsonElement g)
    {
        string at = $"quantization_config.config_groups.{name}";
        if (g.ValueKind != JsonValueKind.Object) throw r.Bad(at, "must be an object");
        CheckFormat(r, g, at, required: false);
        var targets = r.Patterns(g, $"{at}.targets", "targets");
        if (targets.Count == 0) throw r.Bad($"{at}.targets", "must be a non-empty list of module names, classes or re: patterns");
        if (g.TryGetProperty("output_activations", out var output) && output.ValueKind != JsonValueKind.Null)
            throw r.Unsupported($"{at}.output_activations", "output quantization", "only weights and inputs are read");
        if (!g.TryGetProperty("weights", out var w) || w.ValueKind != JsonValueKind.Object) throw r.Bad($"{at}.weights", "must be an object");
        var weights = ReadArgs(r, w, $"{at}.weights", dynamic: false) switch
        {
            "tensor" => WeightStrategy.Tensor,
            "channel" => WeightStrategy.Channel,
            var s => throw r.Unsupported($"{at}.weights.strategy", s, "weights are read per tensor or per channel"),
        };
        return new ConfigGroup(name, targets, weights, ReadInputs(r, g, at));
    }

    private static ActivationScheme ReadInputs(Reader r, JsonElement g, string at)
    {
        if (!g.TryGetProperty("input_activations", out var a) || a.ValueKind == JsonValueKind.Null) return ActivationScheme.None;
        if (a.ValueKind != JsonValueKind.Object) throw r.Bad($"{at}.input_activations", "must be an object or null");
        bool dynamic = a.TryGetProperty("dynamic", out var d) && d.ValueKind == JsonValueKind.True;
        if (d.ValueKind == JsonValueKind.String) // "local": NVFP4's half-dynamic scales
            throw r.Unsupported($"{at}.input_activations.dynamic", d.GetString()!, "activations are static or dynamic");
        string strategy = ReadArgs(r, a, $"{at}.input_activations", dynamic);
        return (strategy, dynamic) switch
        {
            ("tensor", false) => ActivationScheme.Static,
            ("token" or "tensor", true) => ActivationScheme.Dynamic,
            _ => throw r.Unsupported($"{at}.input_activations.strategy", strategy + (dynamic ? " (dynamic)" : " (static)"),
                "inputs are static per tensor or dynamic per token"),
        };
    }

    /// <summary>Checks the fields every FP8 QuantizationArgs shares and returns its strategy.</summary>
    private static string ReadArgs(Reader r, JsonElement args, string at, bool dynamic)
    {
        string type = args.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!.ToLowerInvariant() : "int";
        int bits = args.TryGetProperty("num_bits", out var b) ? b.ValueKind == JsonValueKind.Number && b.TryGetInt32(out int n) ? n
            : throw r.Bad($"{at}.num_bits", "must be an integer") : 8;
        if (type != "float" || bits != 8) throw r.Unsupported(at, $"{type}{bits}", "only 8-bit float (e4m3) is read");
        if (args.TryGetProperty("symmetric", out var s) && s.ValueKind == JsonValueKind.False)
            throw r.Unsupported($"{at}.symmetric", "false", "FP8 scales are symmetric");
        if (!dynamic && args.TryGetProperty("dynamic", out var d) && d.ValueKind != JsonValueKind.False && d.ValueKind != JsonValueKind.Null)
            throw r.Unsupported($"{at}.dynamic", d.GetRawText(), "weights are static");
        if (args.TryGetProperty("strategy", out var st) && st.ValueKind == JsonValueKind.String) return st.GetString()!.ToLowerInvariant();
        // compressed-tensors infers the strategy from group_size when it is absent.
        return args.TryGetProperty("group_size", out var gs) && gs.ValueKind == JsonValueKind.Number
            ? gs.TryGetInt32(out int size) && size == -1 ? "channel" : "group" : "tensor";
    }

    private static void CheckFormat(Reader r, JsonElement o, string at, bool required)
    {
        if (!o.TryGetProperty("format", out var f) || f.ValueKind == JsonValueKind.Null)
        {
            if (required) throw r.Bad($"{at}.format", $"is missing (expected {Format})");
            return;
        }
        if (f.ValueKind != JsonValueKind.String) throw r.Bad($"{at}.format", "must be a string");
        if (f.GetString() != Format) throw r.Unsupported($"{at}.format", f.GetString()!, $"only {Format} (FP8) is read");
    }

    /// <summary>Errors that name the file and the field.</summary>
    private sealed class Reader(string source)
    {
        public BambaException Bad(string field, string what) => new($"{source}: {field} {what}");

        public BambaException Unsupported(string field, string value, string why) =>
            new($"{source}: {field} '{value}' is not supported ({why})");

        public string String(JsonElement o, string at, string name) =>
            o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad($"{at}.{name}", "must be a string");

        /// <summary>A list of module names, class names and "re:" patterns (each pattern checked to compile).</summary>
        public IReadOnlyList<string> Patterns(JsonElement o, string at, string name)
        {
            if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return [];
            if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw Bad(at, "must be a list of strings");
            var patterns = v.EnumerateArray().Select(e => e.GetString()!).ToArray();
            foreach (var p in patterns.Where(p => p.StartsWith("re:", StringComparison.Ordinal)))
            {
                try { _ = new Regex(Anchored(p), RegexOptions.None, PatternTimeout); }
                catch (ArgumentException e) { throw Bad(at, $"holds '{p}', not a valid regular expression ({e.Message})"); }
            }
            return patterns;
        }
    }
}

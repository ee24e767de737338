using System.Globalization;
using System.Text;
using System.Text.Json;
using Bamba.Architectures;

namespace Bamba.Configuration;

/// <summary>
/// Reads and validates <c>config.json</c>. Every user error names the file and the field and says what was expected.
/// </summary>
public static class BambaConfigReader
{
    public static BambaConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new BambaException($"{path}: file not found (a model directory needs config.json)");
        return Parse(File.ReadAllText(path), path);
    }

    public static BambaConfig Parse(string json, string source = "config.json")
    {
        Bamba.Text.JsonUnicode.Require(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(QuoteNonFiniteLiterals(json)); }
        catch (JsonException e) { throw new BambaException($"{source}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new BambaException($"{source}: expected a JSON object at the top level");
            var f = new ConfigFields(doc.RootElement, source);
            string modelType = f.String("model_type", "");
            var architecture = ArchitectureRegistry.Find(modelType) ?? throw new BambaException(
                $"{source}: model_type is '{modelType}', not a supported architecture (supported: {string.Join(", ", ArchitectureRegistry.ModelTypes)})");
            var config = architecture.ReadConfig(f) with { ModelType = architecture.ModelType, SourceJson = json };
            double partial = f.Object("rope_parameters")?.Double("partial_rotary_factor", double.NaN) is double p && !double.IsNaN(p)
                ? p : f.Double("partial_rotary_factor", double.NaN);
            ConfigChecks.Run(config, source, double.IsNaN(partial) ? null : partial);
            Validate(config, source);
            return config;
        }
    }

    private static void Validate(BambaConfig c, string source)
    {
        void Positive(int value, string field)
        {
            if (value <= 0) throw new BambaException($"{source}: {field} must be a positive integer, got {value}");
        }
        Positive(c.VocabSize, "vocab_size");
        Positive(c.HiddenSize, "hidden_size");
        Positive(c.IntermediateSize, "intermediate_size");
        Positive(c.NumHiddenLayers, "num_hidden_layers");
        Positive(c.NumAttentionHeads, "num_attention_heads");
        Positive(c.NumKeyValueHeads, "num_key_value_heads");
        Positive(c.MambaNHeads, "mamba_n_heads");
        Positive(c.MambaNGroups, "mamba_n_groups");
        Positive(c.MambaDState, "mamba_d_state");
        Positive(c.MambaDConv, "mamba_d_conv");
        Positive(c.MambaExpand, "mamba_expand");
        Positive(c.MambaChunkSize, "mamba_chunk_size");
        if (c.MlpGated && c.HiddenAct is not ("silu" or "swish"))
            throw new BambaException($"{source}: hidden_act '{c.HiddenAct}' is not supported (expected 'silu')");
        if (c.RopeType != "default")
            throw new BambaException($"{source}: rope_type '{c.RopeType}' is not supported (expected 'default')");
        Positive(c.MambaDHead, "mamba_d_head");
        if (c.MambaIntermediate % c.MambaNormGroups != 0)
            throw new BambaException($"{source}: the Mamba inner width ({c.MambaIntermediate}) must divide into {c.MambaNormGroups} norm groups");
        if (c.MambaNHeads % c.MambaNGroups != 0)
            throw new BambaException($"{source}: mamba_n_groups ({c.MambaNGroups}) must divide mamba_n_heads ({c.MambaNHeads})");
        if (c.Layers.Count != c.NumHiddenLayers)
            throw new BambaException($"{source}: the layer plan has {c.Layers.Count} layers, num_hidden_layers is {c.NumHiddenLayers}");
        if (c.NumAttentionLayers > 0)
        {
            Positive(c.HeadDim, "head_dim");
            if (c.NumAttentionHeads % c.NumKeyValueHeads != 0)
                throw new BambaException($"{source}: num_key_value_heads ({c.NumKeyValueHeads}) must divide num_attention_heads ({c.NumAttentionHeads})");
        }
        if (c.HasMixtureOfExperts) ValidateExperts(c, source);
        if (!(c.RmsNormEps > 0)) throw new BambaException($"{source}: rms_norm_eps must be positive, got {c.RmsNormEps}");
        if (!(c.TimeStepLimitMin <= c.TimeStepLimitMax))
            throw new BambaException($"{source}: time_step_limit must be [low, high] with low ≤ high");
    }

    /// <summary>
    /// Python's json module writes Infinity / -Infinity / NaN as bare literals, which are not JSON; quote them so
    /// the reader sees strings it can convert.
    /// </summary>
    internal static string QuoteNonFiniteLiterals(string json)
    {
        var sb = new StringBuilder(json.Length + 16);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char ch = json[i];
            if (inString)
            {
                sb.Append(ch);
                if (ch == '\\' && i + 1 < json.Length) sb.Append(json[++i]);
                else if (ch == '"') inString = false;
                continue;
            }
            if (ch == '"') { inString = true; sb.Append(ch); continue; }
            string? literal = MatchLiteral(json, i);
            if (literal is null) { sb.Append(ch); continue; }
            sb.Append('"').Append(literal).Append('"');
            i += literal.Length - 1;
        }
        return sb.ToString();
    }

    private static string? MatchLiteral(string json, int i)
    {
        foreach (var literal in (ReadOnlySpan<string>)["-Infinity", "Infinity", "NaN"])
            if (string.CompareOrdinal(json, i, literal, 0, literal.Length) == 0) return literal;
        return null;
    }

    private static void ValidateExperts(BambaConfig c, string source)
    {
        if (c.NumExperts <= 0 || c.NumExpertsPerToken <= 0 || c.NumExpertsPerToken > c.NumExperts)
            throw new BambaException($"{source}: a mixture of experts needs 1 ≤ experts per token ({c.NumExpertsPerToken}) ≤ experts ({c.NumExperts})");
        if (c.RouterGroups <= 0 || c.NumExperts % c.RouterGroups != 0 || c.RouterTopKGroups <= 0 || c.RouterTopKGroups > c.RouterGroups)
            throw new BambaException($"{source}: n_group ({c.RouterGroups}) must divide the experts ({c.NumExperts}) and topk_group ({c.RouterTopKGroups}) be within 1..n_group");
        if (c.NumExpertsPerToken > c.NumExperts / c.RouterGroups * c.RouterTopKGroups)
            throw new BambaException($"{source}: num_experts_per_tok ({c.NumExpertsPerToken}) exceeds the experts of topk_group groups");
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

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
            var f = new Fields(doc.RootElement, source);
            string modelType = f.String("model_type", "");
            if (modelType != "bamba")
                throw new BambaException($"{source}: model_type is '{modelType}', expected 'bamba'");
            var config = Read(f);
            double partial = f.Object("rope_parameters")?.Double("partial_rotary_factor", double.NaN) is double p && !double.IsNaN(p)
                ? p : f.Double("partial_rotary_factor", double.NaN);
            ConfigChecks.Run(config, source, double.IsNaN(partial) ? null : partial);
            Validate(config, source);
            return config;
        }
    }

    private static BambaConfig Read(Fields f)
    {
        var d = new BambaConfig();
        int hidden = f.Int("hidden_size", d.HiddenSize);
        int expand = f.Int("mamba_expand", d.MambaExpand);
        int mambaHeads = f.Int("mamba_n_heads", d.MambaNHeads);
        var rope = f.Object("rope_parameters");
        var (limitMin, limitMax) = f.TimeStepLimit("time_step_limit");
        return new BambaConfig
        {
            VocabSize = f.Int("vocab_size", d.VocabSize),
            TieWordEmbeddings = f.Bool("tie_word_embeddings", d.TieWordEmbeddings),
            HiddenSize = hidden,
            IntermediateSize = f.Int("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = f.Int("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = f.Int("num_attention_heads", d.NumAttentionHeads),
            // transformers falls back to MHA when num_key_value_heads is null.
            NumKeyValueHeads = f.NullableInt("num_key_value_heads", d.NumKeyValueHeads) ?? f.Int("num_attention_heads", d.NumAttentionHeads),
            HiddenAct = f.String("hidden_act", d.HiddenAct),
            InitializerRange = f.Double("initializer_range", d.InitializerRange),
            RmsNormEps = f.Double("rms_norm_eps", d.RmsNormEps),
            UseCache = f.Bool("use_cache", d.UseCache),
            NumLogitsToKeep = f.NullableInt("num_logits_to_keep", d.NumLogitsToKeep),
            PadTokenId = f.NullableInt("pad_token_id", d.PadTokenId),
            BosTokenId = f.NullableInt("bos_token_id", d.BosTokenId),
            EosTokenIds = f.IntOrIntList("eos_token_id", d.EosTokenIds),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", d.MaxPositionEmbeddings),
            AttentionDropout = f.Double("attention_dropout", d.AttentionDropout),
            AttnLayerIndices = f.IntList("attn_layer_indices") ?? [],
            MambaNHeads = mambaHeads,
            MambaDHead = f.MambaDHead("mamba_d_head", expand * hidden, mambaHeads),
            MambaNGroups = f.Int("mamba_n_groups", d.MambaNGroups),
            MambaDState = f.Int("mamba_d_state", d.MambaDState),
            MambaDConv = f.Int("mamba_d_conv", d.MambaDConv),
            MambaExpand = expand,
            MambaChunkSize = f.Int("mamba_chunk_size", d.MambaChunkSize),
            MambaConvBias = f.Bool("mamba_conv_bias", d.MambaConvBias),
            MambaProjBias = f.Bool("mamba_proj_bias", d.MambaProjBias),
            TimeStepMin = f.Double("time_step_min", d.TimeStepMin),
            TimeStepMax = f.Double("time_step_max", d.TimeStepMax),
            TimeStepLimitMin = limitMin,
            TimeStepLimitMax = limitMax,
            ZLossCoefficient = f.Double("z_loss_coefficient", d.ZLossCoefficient),
            // Newer files nest theta in rope_parameters; older ones write a top-level rope_theta.
            RopeTheta = rope?.Double("rope_theta", double.NaN) is double t && !double.IsNaN(t) ? t : f.Double("rope_theta", d.RopeTheta),
            RopeType = rope?.String("rope_type", d.RopeType) ?? f.String("rope_type", d.RopeType),
            // transformers hard-codes 0.5 for Bamba whatever the file says; kept for older files that omit it.
            PartialRotaryFactor = d.PartialRotaryFactor,
            Dtype = f.NullableString("dtype") ?? f.NullableString("torch_dtype"),
        };
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
        if (c.HiddenAct is not ("silu" or "swish"))
            throw new BambaException($"{source}: hidden_act '{c.HiddenAct}' is not supported (expected 'silu')");
        if (c.RopeType != "default")
            throw new BambaException($"{source}: rope_type '{c.RopeType}' is not supported (expected 'default')");
        if (c.MambaIntermediate % c.MambaNHeads != 0)
            throw new BambaException($"{source}: mamba_n_heads ({c.MambaNHeads}) must divide mamba_expand * hidden_size ({c.MambaIntermediate})");
        if (c.MambaDHead * c.MambaNHeads != c.MambaIntermediate)
            throw new BambaException($"{source}: mamba_d_head ({c.MambaDHead}) × mamba_n_heads ({c.MambaNHeads}) must equal mamba_expand * hidden_size ({c.MambaIntermediate})");
        if (c.MambaNHeads % c.MambaNGroups != 0)
            throw new BambaException($"{source}: mamba_n_groups ({c.MambaNGroups}) must divide mamba_n_heads ({c.MambaNHeads})");
        foreach (int layer in c.AttnLayerIndices)
            if (layer < 0 || layer >= c.NumHiddenLayers)
                throw new BambaException($"{source}: attn_layer_indices contains {layer}, outside 0..{c.NumHiddenLayers - 1}");
        if (c.NumAttentionLayers > 0)
        {
            if (c.HiddenSize % c.NumAttentionHeads != 0)
                throw new BambaException($"{source}: num_attention_heads ({c.NumAttentionHeads}) must divide hidden_size ({c.HiddenSize})");
            if (c.NumAttentionHeads % c.NumKeyValueHeads != 0)
                throw new BambaException($"{source}: num_key_value_heads ({c.NumKeyValueHeads}) must divide num_attention_heads ({c.NumAttentionHeads})");
        }
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

    /// <summary>Typed access to the fields of one JSON object, with errors that name the field.</summary>
    private sealed class Fields(JsonElement obj, string source)
    {
        private JsonElement? Get(string name) =>
            obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        private BambaException Wrong(string name, string expected, JsonElement v) =>
            new($"{source}: field '{name}' must be {expected}, got {Describe(v)}");

        private static string Describe(JsonElement v) => v.ValueKind switch
        {
            JsonValueKind.String => $"the string \"{v.GetString()}\"",
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "a list",
            _ => v.GetRawText(),
        };

        public int Int(string name, int fallback) => NullableInt(name, fallback) ?? fallback;

        public int? NullableInt(string name, int? fallback)
        {
            if (!obj.TryGetProperty(name, out var v)) return fallback;
            if (v.ValueKind == JsonValueKind.Null) return null;
            return ToInt(name, v);
        }

        private int ToInt(string name, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(name, "an integer", v);

        public bool Bool(string name, bool fallback)
        {
            if (Get(name) is not { } v) return fallback;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Wrong(name, "true or false", v),
            };
        }

        public double Double(string name, double fallback) => Get(name) is { } v ? ToDouble(name, v) : fallback;

        private double ToDouble(string name, JsonElement v)
        {
            if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            if (v.ValueKind == JsonValueKind.String && ParseNonFinite(v.GetString()) is double d) return d;
            // transformers serialises non-finite floats as {"__float__": "Infinity"}.
            if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("__float__", out var inner)
                && inner.ValueKind == JsonValueKind.String && ParseNonFinite(inner.GetString()) is double e) return e;
            throw Wrong(name, "a number", v);
        }

        private static double? ParseNonFinite(string? s) => s switch
        {
            "Infinity" or "inf" => double.PositiveInfinity,
            "-Infinity" or "-inf" => double.NegativeInfinity,
            "NaN" or "nan" => double.NaN,
            _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null,
        };

        public string String(string name, string fallback) => NullableString(name) ?? fallback;

        public string? NullableString(string name)
        {
            if (Get(name) is not { } v) return null;
            return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(name, "a string", v);
        }

        public Fields? Object(string name)
        {
            if (Get(name) is not { } v) return null;
            return v.ValueKind == JsonValueKind.Object ? new Fields(v, $"{source}: {name}") : throw Wrong(name, "an object", v);
        }

        public IReadOnlyList<int>? IntList(string name)
        {
            if (Get(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "a list of integers", v);
            return v.EnumerateArray().Select(e => ToInt(name, e)).ToArray();
        }

        public IReadOnlyList<int> IntOrIntList(string name, IReadOnlyList<int> fallback)
        {
            if (!obj.TryGetProperty(name, out var v)) return fallback;
            if (v.ValueKind == JsonValueKind.Null) return [];
            return v.ValueKind == JsonValueKind.Array ? IntList(name)! : [ToInt(name, v)];
        }

        public (double Min, double Max) TimeStepLimit(string name)
        {
            if (Get(name) is not { } v) return (0.0, double.PositiveInfinity);
            if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2) throw Wrong(name, "a list [low, high]", v);
            return (ToDouble(name, v[0]), ToDouble(name, v[1]));
        }

        public int MambaDHead(string name, int intermediate, int heads)
        {
            if (Get(name) is not { } v) return heads > 0 ? intermediate / heads : 0;
            if (v.ValueKind == JsonValueKind.String && v.GetString() == "auto") return heads > 0 ? intermediate / heads : 0;
            return v.ValueKind == JsonValueKind.Number ? ToInt(name, v) : throw Wrong(name, "an integer or \"auto\"", v);
        }
    }
}

using System.Text.Json;

namespace Bamba.Tokenization;

/// <summary>
/// What transformers reads beside tokenizer.json: tokenizer_config.json (special tokens, add_bos_token /
/// add_eos_token, chat_template, added_tokens_decoder) and generation_config.json's eos_token_id.
/// </summary>
internal sealed class TokenizerConfig
{
    public string? BosToken { get; private init; }
    public string? EosToken { get; private init; }
    public string? UnkToken { get; private init; }
    public string? PadToken { get; private init; }
    public bool? AddBosToken { get; private init; }
    public bool? AddEosToken { get; private init; }
    public string? ChatTemplate { get; private set; }
    public List<AddedToken> AddedTokensDecoder { get; } = [];
    public List<int> GenerationEosIds { get; } = [];

    public static TokenizerConfig Load(string directory)
    {
        string path = Path.Combine(directory, "tokenizer_config.json");
        var config = File.Exists(path) ? Parse(ReadObject(path), path) : new TokenizerConfig();
        // transformers 4.50+ saves the template beside the config as chat_template.jinja, which then wins.
        string jinja = Path.Combine(directory, "chat_template.jinja");
        if (File.Exists(jinja)) config.ChatTemplate = File.ReadAllText(jinja);
        string generation = Path.Combine(directory, "generation_config.json");
        if (File.Exists(generation)) config.GenerationEosIds.AddRange(EosIds(ReadObject(generation), generation));
        return config;
    }

    private static JsonElement ReadObject(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            Bamba.Text.JsonUnicode.Require(bytes, path);
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? doc.RootElement.Clone() : throw new BambaException($"{path}: expected a JSON object");
        }
        catch (JsonException e) { throw new BambaException($"{path}: not valid JSON ({e.Message})"); }
    }

    internal static TokenizerConfig Parse(JsonElement root, string path)
    {
        var spec = new TokenizerSpec(root, path, "$");
        var config = new TokenizerConfig
        {
            BosToken = TokenText(spec, "bos_token"),
            EosToken = TokenText(spec, "eos_token"),
            UnkToken = TokenText(spec, "unk_token"),
            PadToken = TokenText(spec, "pad_token"),
            AddBosToken = spec.Has("add_bos_token") ? spec.Bool("add_bos_token", false) : null,
            AddEosToken = spec.Has("add_eos_token") ? spec.Bool("add_eos_token", false) : null,
            ChatTemplate = ChatTemplateText(spec),
        };
        if (spec.Optional("added_tokens_decoder") is { } decoder && decoder.IsObject)
            foreach (var p in decoder.Element.EnumerateObject())
            {
                if (!int.TryParse(p.Name, out int id) || id < 0) throw decoder.Error($"key '{p.Name}' is not a token id");
                var t = new TokenizerSpec(p.Value, path, $"{decoder.Path}.{p.Name}");
                config.AddedTokensDecoder.Add(new AddedToken(id, t.String("content"), t.Bool("special", false),
                    t.Bool("normalized", !t.Bool("special", false)), t.Bool("lstrip", false), t.Bool("rstrip", false), t.Bool("single_word", false)));
            }
        return config;
    }

    /// <summary>Special tokens are written as a string or as a serialized AddedToken object with "content".</summary>
    private static string? TokenText(TokenizerSpec spec, string name)
    {
        if (spec.Optional(name) is not { } v) return null;
        return v.Element.ValueKind switch
        {
            JsonValueKind.String => v.Element.GetString(),
            JsonValueKind.Object => v.String("content"),
            _ => throw spec.Error($"field '{name}' must be a string or an object with 'content'"),
        };
    }

    /// <summary>A single template string, or a list of {name, template} of which "default" is used.</summary>
    private static string? ChatTemplateText(TokenizerSpec spec)
    {
        if (spec.Optional("chat_template") is not { } v) return null;
        if (v.Element.ValueKind == JsonValueKind.String) return v.Element.GetString();
        if (v.Element.ValueKind == JsonValueKind.Array)
            foreach (var item in v.Element.EnumerateArray())
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.GetString() == "default"
                    && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                    return t.GetString();
        return null;
    }

    private static IEnumerable<int> EosIds(JsonElement root, string path)
    {
        if (!root.TryGetProperty("eos_token_id", out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one)) return [one];
        if (v.ValueKind == JsonValueKind.Array)
            return v.EnumerateArray().Select(e => e.TryGetInt32(out int id) ? id : throw new BambaException($"{path}: eos_token_id must hold integers")).ToList();
        if (v.ValueKind == JsonValueKind.Null) return [];
        throw new BambaException($"{path}: eos_token_id must be an integer or a list of integers");
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Weights.Gguf;

/// <summary>
/// A byte-level BPE tokenizer between tokenizer.json (+ tokenizer_config.json) and GGUF's <c>tokenizer.ggml.*</c>
/// keys as llama.cpp's converter writes them (model "gpt2", tokens and token types by id, merges as "a b", special
/// ids, the pre-tokenizer by name, the chat template). A directory without tokenizer.json becomes model "none".
/// </summary>
public static class GgufTokenizer
{
    /// <summary>The Llama-3 split pattern: llama.cpp names it "llama-bpe".</summary>
    public const string Llama3Pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>Marks the vocabulary of a model that came without a tokenizer (see <see cref="Placeholder"/>).</summary>
    public const string PlaceholderKey = "bamba.placeholder_vocab";

    public static List<KeyValuePair<string, GgufValue>> FromHf(string directory, int vocabSize)
    {
        string path = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path)) return Placeholder(vocabSize);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var model = root["model"]?.AsObject() ?? throw new BambaException($"{path}: missing 'model'");
        if ((string?)model["type"] != "BPE") throw new BambaException($"{path}: only BPE tokenizers can be written to GGUF");
        var tokens = new string?[vocabSize];
        var types = new long[vocabSize];
        foreach (var (token, id) in model["vocab"]!.AsObject()) Set(tokens, types, (int)id!, token, Normal, path);
        foreach (var added in root["added_tokens"]?.AsArray() ?? [])
            Set(tokens, types, (int)added!["id"]!, (string)added["content"]!, (bool?)added["special"] == true ? Control : UserDefined, path);
        for (int i = 0; i < vocabSize; i++)
            if (tokens[i] is null) { tokens[i] = $"[PAD{i}]"; types[i] = Unused; }
        var merges = model["merges"]!.AsArray().Select(m => m is JsonArray pair ? $"{pair[0]} {pair[1]}" : (string)m!).ToArray();
        var kv = new List<KeyValuePair<string, GgufValue>>
        {
            new("tokenizer.ggml.model", GgufValue.String("gpt2")),
            new("tokenizer.ggml.pre", GgufValue.String(PreTokenizerName(root["pre_tokenizer"]))),
            new("tokenizer.ggml.tokens", GgufValue.StringArray(tokens!)),
            new("tokenizer.ggml.token_type", GgufValue.Int32Array(types)),
            new("tokenizer.ggml.merges", GgufValue.StringArray(merges)),
        };
        AddConfig(directory, tokens!, kv);
        return kv;
    }

    /// <summary>llama.cpp's name for the split: "llama-bpe" (the Llama-3 pattern), "gpt-2" (ByteLevel's own regex), else "default".</summary>
    private static string PreTokenizerName(JsonNode? pre) =>
        pre?.ToJsonString().Contains(JsonValue.Create(Llama3Pattern).ToJsonString()[1..^1]) == true ? "llama-bpe"
        : pre is JsonObject { } o && (string?)o["type"] == "ByteLevel" && o["use_regex"]?.GetValueKind() != JsonValueKind.False ? "gpt-2"
        : "default";

    /// <summary>
    /// A model without tokenizer.json (token-id prompts only) still needs a vocabulary for llama.cpp to load it (its
    /// model "none" aborts in node-llama-cpp's start-up tokenization): ids 0..255 are the 256 bytes in GPT-2's
    /// byte-level alphabet, the rest "[id]", no merges. Marked so that reading the file back ignores it.
    /// </summary>
    private static List<KeyValuePair<string, GgufValue>> Placeholder(int vocabSize)
    {
        var tokens = Enumerable.Range(0, vocabSize).Select(i => i < 256 ? Tokenization.ByteLevelAlphabet.ByteToChar[i].ToString() : $"[{i}]").ToArray();
        return
        [
            new("tokenizer.ggml.model", GgufValue.String("gpt2")),
            new("tokenizer.ggml.pre", GgufValue.String("default")),
            new("tokenizer.ggml.tokens", GgufValue.StringArray(tokens)),
            new("tokenizer.ggml.token_type", GgufValue.Int32Array(Enumerable.Repeat((long)Normal, vocabSize).ToArray())),
            new("tokenizer.ggml.merges", GgufValue.StringArray([])),
            new(PlaceholderKey, GgufValue.Bool(true)),
        ];
    }

    private static void Set(string?[] tokens, long[] types, int id, string token, int type, string path)
    {
        if ((uint)id >= (uint)tokens.Length) throw new BambaException($"{path}: token id {id} is outside the model's vocabulary ({tokens.Length})");
        tokens[id] = token;
        types[id] = type;
    }

    /// <summary>Special token ids, add_bos and the chat template from tokenizer_config.json / chat_template.jinja.</summary>
    private static void AddConfig(string directory, string[] tokens, List<KeyValuePair<string, GgufValue>> kv)
    {
        string path = Path.Combine(directory, "tokenizer_config.json");
        var config = File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))!.AsObject() : new JsonObject();
        foreach (var (field, key) in new[] { ("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unknown"), ("pad_token", "padding") })
        {
            string? text = config[field] is JsonObject o ? (string?)o["content"] : config[field]?.GetValueKind() == JsonValueKind.String ? (string?)config[field] : null;
            int id = text is null ? -1 : Array.IndexOf(tokens, text);
            if (id >= 0) kv.Add(new($"tokenizer.ggml.{key}_token_id", GgufValue.UInt32(id)));
        }
        if (config["add_bos_token"]?.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            kv.Add(new("tokenizer.ggml.add_bos_token", GgufValue.Bool((bool)config["add_bos_token"]!)));
        string jinja = Path.Combine(directory, "chat_template.jinja");
        string? template = File.Exists(jinja) ? File.ReadAllText(jinja) : config["chat_template"]?.GetValueKind() == JsonValueKind.String ? (string?)config["chat_template"] : null;
        if (template is not null) kv.Add(new("tokenizer.chat_template", GgufValue.String(template)));
    }

    /// <summary>
    /// Writes tokenizer.json and tokenizer_config.json for GGUF tokenizer keys (nothing for model "none"). Pre-tokenizer
    /// "llama-bpe" becomes the Llama-3 split (merges ignored for whole-word tokens, as Llama 3's), "gpt-2" ByteLevel's
    /// own regex; other names are refused rather than guessed.
    /// </summary>
    public static void WriteHf(IReadOnlyList<KeyValuePair<string, GgufValue>> keys, string directory)
    {
        var m = new GgufMetadata(keys.ToDictionary(k => k.Key, k => k.Value), "tokenizer");
        if (!HasText(m)) return;
        var (tokenizer, config) = ToHf(m);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The tokenizer a GGUF file carries, or null when it has none (model "none" or bamba's placeholder).</summary>
    public static Tokenization.HfTokenizer? TryLoad(string path)
    {
        using var file = GgufFile.Open(path);
        var m = new GgufMetadata(file.Metadata, path);
        if (!HasText(m)) return null;
        try
        {
            var (tokenizer, config) = ToHf(m);
            return Tokenization.HfTokenizer.FromJson(tokenizer.ToJsonString(), config.ToJsonString(), $"{path} (tokenizer.ggml.*)");
        }
        catch (BambaException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal)) { throw new BambaException($"{path}: {e.Message}"); }
    }

    /// <summary>Whether the file carries a real tokenizer (not "none", not our placeholder).</summary>
    public static bool HasText(GgufMetadata m) =>
        m.OptionalString("tokenizer.ggml.model") is { } model && model is not ("none" or "no_vocab") && m.OptionalBool(PlaceholderKey) != true;

    public static (JsonObject Tokenizer, JsonObject Config) ToHf(GgufMetadata m)
    {
        string model = m.String("tokenizer.ggml.model"), pre = m.OptionalString("tokenizer.ggml.pre") ?? "default";
        if (model != "gpt2") throw new BambaException($"tokenizer.ggml.model '{model}' is not supported (bamba reads byte-level BPE, 'gpt2')");
        if (pre is not ("llama-bpe" or "gpt-2")) throw new BambaException($"tokenizer.ggml.pre '{pre}' is not supported (bamba knows 'llama-bpe' and 'gpt-2')");
        var tokens = m.OptionalStrings("tokenizer.ggml.tokens") ?? throw new BambaException("missing metadata key 'tokenizer.ggml.tokens'");
        var types = m.OptionalIntegers("tokenizer.ggml.token_type") ?? Enumerable.Repeat((long)Normal, tokens.Length).ToArray();
        var merges = m.OptionalStrings("tokenizer.ggml.merges") ?? throw new BambaException("missing metadata key 'tokenizer.ggml.merges'");
        var vocab = new JsonObject();
        var added = new JsonArray();
        for (int i = 0; i < tokens.Length; i++)
        {
            long type = i < types.Length ? types[i] : Normal;
            if (type is Control or UserDefined)
                added.Add((JsonNode)new JsonObject { ["id"] = i, ["content"] = tokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = type == UserDefined, ["special"] = type == Control });
            if (type != Unused) vocab[tokens[i]] = i;
        }
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["pre_tokenizer"] = pre == "gpt-2"
                ? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true }
                : new JsonObject
                {
                    ["type"] = "Sequence",
                    ["pretokenizers"] = new JsonArray(
                        new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                        new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
                },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = pre == "llama-bpe",
                ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(s => (JsonNode)s).ToArray()),
            },
        };
        var config = new JsonObject();
        foreach (var (key, field) in new[] { ("bos", "bos_token"), ("eos", "eos_token"), ("unknown", "unk_token"), ("padding", "pad_token") })
            if (m.OptionalInt($"tokenizer.ggml.{key}_token_id") is int id && id < tokens.Length) config[field] = tokens[id];
        if (m.OptionalBool("tokenizer.ggml.add_bos_token") is bool addBos) config["add_bos_token"] = addBos;
        if (m.OptionalString("tokenizer.chat_template") is { } template) config["chat_template"] = template;
        return (tokenizer, config);
    }
}

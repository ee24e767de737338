using System.Text.Json.Nodes;
using Bamba.Tokenization;

namespace Bamba.Tests.Tokenization;

/// <summary>Builds small tokenizer.json files in a temporary directory for the hand-made tokenizer tests.</summary>
public static class TokenizerFiles
{
    /// <summary>Writes the files and loads them; the directory is deleted afterwards.</summary>
    public static HfTokenizer Load(JsonObject tokenizer, JsonObject? config = null)
    {
        var dir = Write(tokenizer, config);
        try { return HfTokenizer.Load(dir); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    public static string Write(JsonObject tokenizer, JsonObject? config = null)
    {
        var dir = Directory.CreateTempSubdirectory("bamba-tok-").FullName;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
        if (config is not null) File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return dir;
    }

    public static JsonObject AddedToken(int id, string content, bool special = true, bool normalized = false,
        bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = singleWord, ["lstrip"] = lstrip,
        ["rstrip"] = rstrip, ["normalized"] = normalized, ["special"] = special,
    };

    public static JsonObject Bpe(JsonObject vocab, JsonArray merges, string? unk = null, bool byteFallback = false,
        bool ignoreMerges = false, bool fuseUnk = false) => new()
    {
        ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = unk, ["continuing_subword_prefix"] = null,
        ["end_of_word_suffix"] = null, ["fuse_unk"] = fuseUnk, ["byte_fallback"] = byteFallback,
        ["ignore_merges"] = ignoreMerges, ["vocab"] = vocab, ["merges"] = merges,
    };

    public static JsonObject Tokenizer(JsonObject model, JsonNode? normalizer = null, JsonNode? preTokenizer = null,
        JsonNode? postProcessor = null, JsonNode? decoder = null, JsonArray? addedTokens = null) => new()
    {
        ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = addedTokens ?? [],
        ["normalizer"] = normalizer, ["pre_tokenizer"] = preTokenizer, ["post_processor"] = postProcessor,
        ["decoder"] = decoder, ["model"] = model,
    };

    /// <summary>GPT-2's byte alphabet as ids 0..255 (id = byte value), plus the given tokens after it.</summary>
    public static JsonObject ByteLevelVocab(params string[] extra)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar[b].ToString()] = b;
        for (int i = 0; i < extra.Length; i++) vocab[extra[i]] = 256 + i;
        return vocab;
    }

    public static JsonArray Merges(params string[] merges) => new(merges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray());

    public static JsonObject Type(string type, params (string Key, JsonNode? Value)[] fields)
    {
        var o = new JsonObject { ["type"] = type };
        foreach (var (k, v) in fields) o[k] = v;
        return o;
    }

    public static JsonObject StringPattern(string s) => new() { ["String"] = s };
    public static JsonObject RegexPattern(string s) => new() { ["Regex"] = s };
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Training.Tokenizer;

/// <summary>
/// Writes a trained byte-level BPE as the Hugging Face <c>tokenizers</c> library saves one: tokenizer.json
/// (ByteLevel pre-tokenizer with GPT-2's regex, ByteLevel decoder, BPE model) and tokenizer_config.json naming the
/// special tokens. Ids 0, 1, 2 are pad, bos and eos, matching Bamba's config defaults.
/// </summary>
public static class TokenizerFiles
{
    public static readonly string[] SpecialTokens = ["<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"];

    public static void Write(string directory, BpeVocabulary vocabulary)
    {
        Directory.CreateDirectory(directory);
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJson(vocabulary).ToJsonString(options));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), TokenizerConfigJson(vocabulary).ToJsonString(options));
    }

    private static JsonObject ByteLevel(bool addPrefixSpace, bool trimOffsets) => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = trimOffsets, ["use_regex"] = true,
    };

    private static JsonObject TokenizerJson(BpeVocabulary v)
    {
        var added = new JsonArray();
        for (int i = 0; i < v.SpecialCount; i++)
            added.Add((JsonNode)new JsonObject
            {
                ["id"] = i, ["content"] = v.Tokens[i], ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        var vocab = new JsonObject();
        for (int i = 0; i < v.Tokens.Count; i++) vocab[v.Tokens[i]] = i;
        var merges = new JsonArray();
        foreach (var (left, right) in v.Merges) merges.Add((JsonNode)new JsonArray((JsonNode)left, (JsonNode)right));
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevel(addPrefixSpace: false, trimOffsets: true),
            ["post_processor"] = ByteLevel(addPrefixSpace: true, trimOffsets: false),
            ["decoder"] = ByteLevel(addPrefixSpace: true, trimOffsets: true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    private static JsonObject TokenizerConfigJson(BpeVocabulary v)
    {
        var decoder = new JsonObject();
        for (int i = 0; i < v.SpecialCount; i++)
            decoder[i.ToString()] = new JsonObject
            {
                ["content"] = v.Tokens[i], ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false,
                ["single_word"] = false, ["special"] = true,
            };
        return new JsonObject
        {
            ["added_tokens_decoder"] = decoder,
            ["bos_token"] = v.Tokens[1],
            ["eos_token"] = v.Tokens[2],
            ["pad_token"] = v.Tokens[0],
            ["clean_up_tokenization_spaces"] = false,
            ["model_max_length"] = 4096,
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
        };
    }
}

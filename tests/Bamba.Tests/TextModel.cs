using System.Text.Json;
using Bamba.Tokenization;

namespace Bamba.Tests;

/// <summary>
/// A fixture model with a tokenizer that fits its vocabulary: tiny-bamba (512 ids) plus a byte-level BPE
/// tokenizer.json with the 256 byte symbols, a few merges and BOS/EOS specials — enough for text prompts end to end.
/// </summary>
public static class TextModel
{
    public const int Bos = 300, Eos = 2;

    /// <summary>A minimal chat template: BOS, then each turn as "&lt;role&gt;content\n", then "&lt;assistant&gt;".</summary>
    public const string ChatTemplate =
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";

    public static string Create(string directory)
    {
        foreach (var name in new[] { "config.json", "generation_config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixtures.Model("tiny-bamba"), name), Path.Combine(directory, name), overwrite: true);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJson());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), JsonSerializer.Serialize(new
        {
            bos_token = "<s>", eos_token = "</s>", add_bos_token = true, chat_template = ChatTemplate,
        }));
        return directory;
    }

    private static string TokenizerJson()
    {
        // Ids 0..1 and 3..255 hold bytes (byte 2 moves to 258 so that id 2 can be the model's EOS); 256.. hold merges.
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar[b].ToString()] = b == 2 ? 258 : b;
        string[] merges = ["Ġ t", "h e", "Ġt he"];
        vocab["Ġt"] = 256;
        vocab["he"] = 257;
        vocab["Ġthe"] = 259;
        var spec = new
        {
            version = "1.0",
            added_tokens = new object[]
            {
                new { id = Eos, content = "</s>", single_word = false, lstrip = false, rstrip = false, normalized = false, special = true },
                new { id = Bos, content = "<s>", single_word = false, lstrip = false, rstrip = false, normalized = false, special = true },
            },
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            post_processor = new
            {
                type = "TemplateProcessing",
                single = new object[] { new { SpecialToken = new { id = "<s>", type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } },
                pair = new object[] { new { Sequence = new { id = "A", type_id = 0 } }, new { Sequence = new { id = "B", type_id = 1 } } },
                special_tokens = new Dictionary<string, object> { ["<s>"] = new { id = "<s>", ids = new[] { Bos }, tokens = new[] { "<s>" } } },
            },
            decoder = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = true, use_regex = true },
            model = new { type = "BPE", dropout = (object?)null, unk_token = (object?)null, fuse_unk = false, byte_fallback = false, ignore_merges = false, vocab, merges },
        };
        return JsonSerializer.Serialize(spec);
    }
}

using System.Text.Json.Nodes;
using static Bamba.Tests.Tokenization.TokenizerFiles;

namespace Bamba.Tests.Tokenization;

/// <summary>tokenizer_config.json and generation_config.json: special tokens, eos ids, chat template, extra tokens.</summary>
public class TokenizerConfigTests
{
    private static JsonObject Gpt2Like() => Tokenizer(Bpe(ByteLevelVocab("<|endoftext|>", "<|im_end|>"), Merges()),
        preTokenizer: Type("ByteLevel", ("add_prefix_space", false)), decoder: Type("ByteLevel"));

    [Fact]
    public void EosIdsJoinTheTokenizerAndGenerationConfig()
    {
        var dir = Write(Gpt2Like(), new JsonObject
        {
            ["eos_token"] = new JsonObject { ["content"] = "<|endoftext|>", ["special"] = true },
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "tool_use", ["template"] = "T" },
                new JsonObject { ["name"] = "default", ["template"] = "{{ messages }}" }),
        });
        try
        {
            File.WriteAllText(Path.Combine(dir, "generation_config.json"), "{\"eos_token_id\": [257, 256]}");
            var tok = Bamba.Tokenization.HfTokenizer.Load(dir);
            Assert.Equal(256, tok.EosId);
            Assert.Equal([256, 257], tok.EosIds);
            Assert.Equal("<|endoftext|>", tok.EosToken);
            Assert.Null(tok.BosToken);
            Assert.Equal("{{ messages }}", tok.ChatTemplate);
            // The named eos token (only in the BPE vocabulary) becomes a special added token, as in transformers.
            Assert.Equal(['a', 256], tok.Encode("a<|endoftext|>"));
            Assert.True(tok.IsSpecial(256));
            Assert.Equal("a", tok.Decode([(int)'a', 256], skipSpecialTokens: true));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AddedTokensDecoderEntriesMissingFromTokenizerJsonAreRegistered()
    {
        var tok = Load(Gpt2Like(), new JsonObject
        {
            ["added_tokens_decoder"] = new JsonObject
            {
                ["257"] = new JsonObject { ["content"] = "<|im_end|>", ["special"] = true, ["normalized"] = false },
            },
        });
        Assert.Equal([257, 'x'], tok.Encode("<|im_end|>x"));
        Assert.Equal("x", tok.Decode([257, (int)'x'], skipSpecialTokens: true));
    }
}

using System.Text.Json;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>Renders the real Llama-3, Llama-3.1, Qwen2.5, Granite 3.0/3.3 and Mistral templates and compares byte for byte.</summary>
public class RealTemplateTests
{
    [Theory]
    [MemberData(nameof(TemplateData.CaseIndexes), MemberType = typeof(TemplateData))]
    public void Renders_exactly_like_transformers(int index)
    {
        var json = TemplateData.Cases()[index];
        var template = TemplateData.Load(json.GetProperty("template").GetString()!);
        var messages = json.GetProperty("messages").EnumerateArray().Select(TemplateData.Message).ToList();
        var variables = TemplateData.Variables(json.GetProperty("variables"));
        var addGenerationPrompt = json.GetProperty("add_generation_prompt").GetBoolean();

        if (json.TryGetProperty("error", out var error))
        {
            var raised = Assert.Throws<ChatTemplateRaisedException>(() => template.Render(messages, addGenerationPrompt, variables));
            Assert.Equal(error.GetString(), raised.TemplateMessage);
            return;
        }
        Assert.Equal(json.GetProperty("expected").GetString(), template.Render(messages, addGenerationPrompt, variables));
    }

    [Fact]
    public void Fixture_llama3_template_matches_the_copy_in_Data()
    {
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, "tokenizers", "llama3", "tokenizer_config.json")));
        var fromFixture = config.RootElement.GetProperty("chat_template").GetString();
        Assert.Equal(fromFixture, File.ReadAllText(Path.Combine(TemplateData.Directory, "llama-3-8b-instruct.jinja")));
    }

    [Fact]
    public void Fixture_llama3_template_renders_a_two_turn_chat()
    {
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, "tokenizers", "llama3", "tokenizer_config.json")));
        var template = ChatTemplate.Parse(config.RootElement.GetProperty("chat_template").GetString()!);
        var text = template.Render(
            [new ChatMessage("user", " Hi "), new ChatMessage("assistant", "Hello!")],
            addGenerationPrompt: false,
            new Dictionary<string, object?> { ["bos_token"] = "<|begin_of_text|>" });
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            text);
    }

    [Fact]
    public void Mistral_rejects_a_system_message_with_the_templates_own_words()
    {
        var template = TemplateData.Load("mistral-7b-instruct");
        var raised = Assert.Throws<ChatTemplateRaisedException>(() => template.Render(
            [new ChatMessage("system", "s"), new ChatMessage("user", "u")], true));
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", raised.Message);
        Assert.IsAssignableFrom<BambaException>(raised);
    }

    [Fact]
    public void Granite_default_system_prompt_uses_todays_date()
    {
        var template = TemplateData.Load("granite-3.3-2b-instruct").WithClock(() => new DateTime(2024, 12, 1));
        var text = template.Render([new ChatMessage("user", "hi")], true);
        Assert.StartsWith("<|start_of_role|>system<|end_of_role|> Knowledge Cutoff Date: April 2024.\n Today's Date: December 01, 2024.", text);
    }
}

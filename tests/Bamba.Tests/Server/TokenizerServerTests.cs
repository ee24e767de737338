using System.Text.Json;
using Bamba.Serving;
using Bamba.Tokenization;
using Microsoft.Extensions.AI;

namespace Bamba.Tests.Server;

/// <summary>The server over a model directory with a real tokenizer.json: text prompts, decoded text, stop strings, usage.</summary>
public class TokenizerServerTests
{
    private static async Task<(TestServer Server, TinyTextModel Dir, HfTokenizer Tokenizer)> StartAsync(string template = TinyTextModel.ChatTemplate)
    {
        var dir = new TinyTextModel(template);
        var server = await TestServer.StartAsync(ServingEngine.Load(dir.Directory, TestServer.DefaultOptions));
        return (server, dir, ((HfTextCodec)server.Engine.Text!).Tokenizer);
    }

    [Fact]
    public async Task TextCompletionDecodesTheGreedyTokensAndCountsThePrompt()
    {
        var (s, dir, tokenizer) = await StartAsync();
        using var _ = dir;
        await using var __ = s;
        const string Prompt = "the cat sat on the mat";
        var ids = tokenizer.Encode(Prompt, addSpecialTokens: true);
        Assert.Equal(TextModel.Bos, ids[0]); // BOS from the post-processor
        var expected = await s.GreedyAloneAsync(ids, 12);

        var body = await s.CompletionViaOpenAiPipelineAsync(new { model = s.Model, prompt = Prompt, max_tokens = 12, temperature = 0 });

        Assert.Equal(tokenizer.Decode(expected, skipSpecialTokens: true), body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(ids.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Length, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamingWithAStopStringGivesTheSameTextAsOneAnswer()
    {
        var (s, dir, tokenizer) = await StartAsync();
        using var _ = dir;
        await using var __ = s;
        var whole = await s.CompletionViaOpenAiPipelineAsync(new { model = s.Model, prompt = "on the", max_tokens = 24, temperature = 0, ignore_eos = true });
        string text = whole.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(text.Length > 6, $"greedy text '{text}' too short for this test");
        string stop = text.Substring(text.Length / 2, 2);
        string expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];

        var cut = await s.CompletionViaOpenAiPipelineAsync(new { model = s.Model, prompt = "on the", max_tokens = 24, temperature = 0, ignore_eos = true, stop });
        var (streamed, usage, done) = await OpenAiClientTests.StreamCompletionAsync(s, new
        { model = s.Model, prompt = "on the", max_tokens = 24, temperature = 0, ignore_eos = true, stop, stream = true, stream_options = new { include_usage = true } });

        Assert.Equal(expected, cut.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", cut.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(expected, streamed);
        Assert.True(done);
        Assert.Equal(cut.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), usage!.Value.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task EchoReturnsThePromptTextAndTokenStrings()
    {
        var (s, dir, tokenizer) = await StartAsync();
        using var _ = dir;
        await using var __ = s;
        var body = await s.CompletionViaOpenAiPipelineAsync(new { model = s.Model, prompt = "the cat", max_tokens = 0, echo = true, logprobs = 0 });
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("the cat", choice.GetProperty("text").GetString());
        var tokens = choice.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray();
        Assert.Equal(["<s>", "t", "he", " ", "c", "a", "t"], tokens); // the tiny vocabulary merges "the" only after a space
        Assert.Equal([0, 0, 1, 3, 4, 5, 6], choice.GetProperty("logprobs").GetProperty("text_offset").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task ChatRendersTheModelsTemplateForTheOpenAiClient()
    {
        var (s, dir, tokenizer) = await StartAsync();
        using var _ = dir;
        await using var __ = s;
        string rendered = "<s><|system|>\nbe brief</s>\n<|user|>\nhi there</s>\n<|assistant|>\n"; // the template by hand
        var prompt = tokenizer.Encode(rendered, addSpecialTokens: false);
        var expected = await s.GreedyAloneAsync(prompt, 10);

        OpenAI.Chat.ChatCompletion completion = await s.OpenAI.GetChatClient(s.Model).CompleteChatAsync(
            [new OpenAI.Chat.SystemChatMessage("be brief"), new OpenAI.Chat.UserChatMessage("hi there")],
            new OpenAI.Chat.ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 });

        Assert.Equal(tokenizer.Decode(expected, skipSpecialTokens: true), completion.Content[0].Text);
        Assert.Equal(prompt.Length, completion.Usage.InputTokenCount);
        Assert.Equal(expected.Length, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task ATemplatesRaiseExceptionIsA400OnMessages()
    {
        const string Strict = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('the first message must be from the user') }}{% endif %}" +
                              "{% for m in messages %}{{ m['content'] }}{% endfor %}";
        var (s, dir, _) = await StartAsync(Strict);
        using var __ = dir;
        await using var ___ = s;
        var r = await s.PostAsync("/v1/chat/completions", """{"messages": [{"role": "assistant", "content": "hi"}], "max_tokens": 2}""");
        Assert.Equal(400, r.Status);
        Assert.Equal("messages", r.Body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("first message must be from the user", r.Body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(200, (await s.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}""")).Status);
    }

    [Fact]
    public async Task TheChatClientUsesTheSameTemplate()
    {
        var (s, dir, tokenizer) = await StartAsync();
        using var _ = dir;
        await using var __ = s;
        var prompt = tokenizer.Encode("<s><|user|>\nhi there</s>\n<|assistant|>\n", addSpecialTokens: false);
        var expected = await s.GreedyAloneAsync(prompt, 8);
        Microsoft.Extensions.AI.IChatClient client = new BambaChatClient(s.Engine);
        var response = await client.GetResponseAsync("hi there", new Microsoft.Extensions.AI.ChatOptions { MaxOutputTokens = 8, Temperature = 0 });
        Assert.Equal(tokenizer.Decode(expected, skipSpecialTokens: true), response.Text);
        Assert.Equal(prompt.Length, response.Usage!.InputTokenCount);
    }
}

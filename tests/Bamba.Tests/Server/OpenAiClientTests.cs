using System.Text.Json;
using Bamba.Generation;
using Bamba.Modeling;
using OpenAI.Chat;

namespace Bamba.Tests.Server;

/// <summary>The server driven by the official OpenAI .NET client: chat and completions, streaming and not, usage numbers.</summary>
public class OpenAiClientTests
{
    private static readonly ChatMessage[] Conversation = [new SystemChatMessage("be brief"), new UserChatMessage("hello there")];

    private static int[] ChatPrompt(TestServer s) =>
        s.Codec.Encode(s.Codec.RenderChat([new("system", "be brief"), new("user", "hello there")], true), addSpecialTokens: true);

    [Fact]
    public async Task ChatCompletionMatchesTheEngineAndCountsTokens()
    {
        await using var s = await TestServer.StartAsync();
        var prompt = ChatPrompt(s);
        var expected = await s.GreedyAloneAsync(prompt, 12);

        ChatCompletion completion = await s.OpenAI.GetChatClient(TestServer.ModelId).CompleteChatAsync(Conversation,
            new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 });

        Assert.Equal(s.Codec.Decode(expected), completion.Content[0].Text);
        Assert.Equal(prompt.Length, completion.Usage.InputTokenCount);
        Assert.Equal(expected.Length, completion.Usage.OutputTokenCount);
        Assert.Equal(prompt.Length + expected.Length, completion.Usage.TotalTokenCount);
        Assert.Equal(expected.Length == 12 ? ChatFinishReason.Length : ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
    }

    [Fact]
    public async Task StreamedChatEqualsTheWholeAnswerAndEndsWithUsage()
    {
        await using var s = await TestServer.StartAsync();
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
        ChatCompletion whole = await client.CompleteChatAsync(Conversation, options);

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync(Conversation, options))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.True(updates > 2, "tokens should arrive as separate events");
        Assert.NotNull(usage); // the OpenAI client asks for stream_options.include_usage itself
        Assert.Equal(whole.Usage.InputTokenCount, usage!.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.FinishReason, finish);
    }

    [Fact]
    public async Task ChatLogprobsAndStopSequencesReachTheClient()
    {
        await using var s = await TestServer.StartAsync();
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
        ChatCompletion full = await client.CompleteChatAsync(Conversation, new ChatCompletionOptions
        { MaxOutputTokenCount = 16, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });
        string text = full.Content[0].Text;
        Assert.True(text.Length >= 4, $"the greedy answer '{text}' is too short to cut");
        Assert.Equal(full.Usage.OutputTokenCount, full.ContentTokenLogProbabilities.Count);
        Assert.All(full.ContentTokenLogProbabilities, t =>
        {
            Assert.Equal(3, t.TopLogProbabilities.Count);
            Assert.Equal(t.TopLogProbabilities[0].LogProbability, t.LogProbability, 9); // greedy takes the top token
        });

        // Stop at a piece of the greedy answer: the text ends right before it.
        string stop = text.Substring(text.Length / 2, Math.Min(3, text.Length - text.Length / 2));
        ChatCompletion stopped = await client.CompleteChatAsync(Conversation, new ChatCompletionOptions
        { MaxOutputTokenCount = 16, Temperature = 0, StopSequences = { stop } });
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task SeededSamplingRepeatsAndNChoicesDiffer()
    {
        await using var s = await TestServer.StartAsync();
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 1.5f, Seed = 42 };
#pragma warning restore OPENAI001
        ChatCompletion a = await client.CompleteChatAsync(Conversation, options);
        ChatCompletion b = await client.CompleteChatAsync(Conversation, options);
        Assert.Equal(a.Content[0].Text, b.Content[0].Text);

        // n is not settable through the client: three seeded choices over plain HTTP, each its own sample.
        var (status, body, _) = await s.PostAsync("/v1/chat/completions", JsonSerializer.Serialize(new
        {
            model = TestServer.ModelId, messages = new[] { new { role = "user", content = "hello there" } },
            max_tokens = 12, temperature = 1.5, seed = 42, n = 3,
        }));
        Assert.Equal(200, status);
        var texts = body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()).ToArray();
        Assert.Equal(3, texts.Length);
        Assert.True(texts.Distinct().Count() > 1, "choices with different seeds should differ");
        var usage = body.GetProperty("usage");
        Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 3, 3 * 12); // n choices, prompt counted once
        int promptTokens = s.Codec.Encode(s.Codec.RenderChat([new("user", "hello there")], true), addSpecialTokens: true).Length;
        Assert.Equal(promptTokens, usage.GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task CompletionWithTokenIdsMatchesTheEngine()
    {
        await using var s = await TestServer.StartAsync(withText: false);
        int[] prompt = [1, 17, 250, 3, 99, 42];
        var expected = await s.GreedyAloneAsync(prompt, 9);

        var body = await s.CompletionViaOpenAiPipelineAsync(new { model = TestServer.ModelId, prompt, max_tokens = 9, temperature = 0 });

        var choice = body.GetProperty("choices")[0];
        Assert.Equal(expected, choice.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(prompt.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Length, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt.Length + expected.Length, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task TextCompletionStreamsTheSameTextAsTheWholeAnswer()
    {
        await using var s = await TestServer.StartAsync();
        var body = await s.CompletionViaOpenAiPipelineAsync(new { model = TestServer.ModelId, prompt = "The cat", max_tokens = 8, temperature = 0 });
        string whole = body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(s.Codec.Decode(await s.GreedyAloneAsync(s.Codec.Encode("The cat", true), 8)), whole);

        var (text, usage, sawDone) = await StreamCompletionAsync(s, new { model = TestServer.ModelId, prompt = "The cat", max_tokens = 8, temperature = 0,
            stream = true, stream_options = new { include_usage = true } });

        Assert.Equal(whole, text);
        Assert.True(sawDone);
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), usage!.Value.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), usage.Value.GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task EchoWithLogprobsScoresThePromptLikeAFullForwardPass()
    {
        await using var s = await TestServer.StartAsync(withText: false);
        int[] prompt = [1, 40, 41, 300, 7, 7, 8, 200, 13, 5, 6, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99];
        var body = await s.CompletionViaOpenAiPipelineAsync(new { model = TestServer.ModelId, prompt, max_tokens = 0, echo = true, logprobs = 1 });

        var lp = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("token_logprobs");
        Assert.Equal(JsonValueKind.Null, lp[0].ValueKind);
        using var model = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        var logits = model.Forward([model.CreateState()], [prompt], new ForwardOptions { AllLogits = true }).Logits;
        for (int t = 1; t < prompt.Length; t++)
            Assert.Equal(Sampler.LogSoftmax(logits.AsSpan((t - 1) * 512, 512))[prompt[t]], lp[t].GetDouble(), 4);
        Assert.Equal(0, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    internal static async Task<(string Text, JsonElement? Usage, bool SawDone)> StreamCompletionAsync(TestServer s, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = System.Net.Http.Json.JsonContent.Create(body) };
        using var response = await s.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new System.Text.StringBuilder();
        JsonElement? usage = null;
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line[6..];
            if (data == "[DONE]") { done = true; continue; }
            var chunk = JsonDocument.Parse(data).RootElement;
            foreach (var c in chunk.GetProperty("choices").EnumerateArray()) text.Append(c.GetProperty("text").GetString());
            if (chunk.TryGetProperty("usage", out var u)) usage = u.Clone();
        }
        return (text.ToString(), usage, done);
    }
}

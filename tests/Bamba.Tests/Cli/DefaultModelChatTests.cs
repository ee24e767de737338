using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Serving;
using Bamba.Tests.Server;
using OpenAI.Chat;

namespace Bamba.Tests.Cli;

/// <summary>
/// The shipped models/default chats: its chat template renders turns, its replies end with its EOS token, `bamba chat`
/// holds a conversation at a terminal, and `/v1/chat/completions` answers the official OpenAI client.
/// </summary>
public sealed class DefaultModelChatTests
{
    private static string Dir => Path.Combine(Fixtures.RepositoryRoot, "models", "default");

    /// <summary>The greedy reply to <paramref name="turns"/>, as the chat renders and stops it.</summary>
    private static (string Text, int Tokens) Greedy(IReadOnlyList<ChatTurn> turns, int maxNewTokens, float repetitionPenalty = 1)
    {
        var codec = (HfTextCodec)TextCodecs.Load(Dir)!;
        using var model = BambaModel.Load(Dir);
        var prompt = codec.Encode(codec.RenderChat(turns, addGenerationPrompt: true), addSpecialTokens: !codec.ChatIncludesSpecialTokens);
        var options = new GenerationOptions
        {
            MaxNewTokens = maxNewTokens,
            Sampling = new SamplingOptions { Temperature = 0, RepetitionPenalty = repetitionPenalty },
            EosTokenIds = [.. model.Config.EosTokenIds, .. codec.Tokenizer.EosIds],
        };
        var ids = new Generator(model).Generate([prompt], options)[0].TokenIds;
        return (codec.Decode(ids), ids.Length);
    }

    [Fact]
    public void TheTemplateRendersQuestionAndAnswerTurns()
    {
        var codec = TextCodecs.Load(Dir)!;
        Assert.True(codec.HasChatTemplate);
        Assert.Equal("You are brief.\n\nQ: Hi\nA: Hello.<|end_of_text|>\nQ: Tell me a fortune.\nA:",
            codec.RenderChat([new("system", "You are brief."), new("user", "Hi"), new("assistant", "Hello."), new("user", "Tell me a fortune.")], true));
    }

    [Fact]
    public void ChatAtATerminalHoldsTwoTurnsResetsAndExits()
    {
        const string first = "Tell me a fortune.", second = "What do you know about Linux?";
        var one = Greedy([new("user", first)], 40);
        var two = Greedy([new("user", first), new("assistant", one.Text), new("user", second)], 40);
        Assert.True(one.Tokens < 40, "the default model's reply should end with its EOS token");

        var r = CliProcess.Run(["chat", "--model", Dir, "--max-new-tokens", "40", "--temperature", "0", "--repetition-penalty", "1"],
            terminal: true, stdin: $"{first}\n{second}\n/reset\n{first}\n/exit\n");
        string output = r.Stdout.Replace("\r", "");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("bamba chat: default", output);                 // the banner
        int replyOne = output.IndexOf("bamba> " + one.Text, StringComparison.Ordinal);
        int replyTwo = output.IndexOf("bamba> " + two.Text, StringComparison.Ordinal);
        int cleared = output.IndexOf("(conversation cleared)", StringComparison.Ordinal);
        int replyThree = output.LastIndexOf("bamba> " + one.Text, StringComparison.Ordinal); // after /reset: the first answer again
        Assert.True(replyOne >= 0 && replyTwo > replyOne && cleared > replyTwo && replyThree > cleared, output);
        Assert.Equal(3, output.Split("tokens/s]").Length - 1);
    }

    [Fact]
    public async Task ChatCompletionsAnswerTheOpenAiClient()
    {
        // The server keeps generation_config.json's repetition penalty, which the OpenAI client cannot change.
        var expected = Greedy([new("user", "Tell me a fortune.")], 60, Bamba.Configuration.GenerationConfig.Load(Dir).Sampling.RepetitionPenalty);
        await using var server = await TestServer.StartAsync(ServingEngine.Load(Dir, TestServer.DefaultOptions with { MaxContext = 2048 }, "default"));

        ChatCompletion completion = await server.OpenAI.GetChatClient("default").CompleteChatAsync(
            [new UserChatMessage("Tell me a fortune.")],
            new ChatCompletionOptions { MaxOutputTokenCount = 60, Temperature = 0 });

        Assert.Equal(expected.Text, completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(expected.Tokens, completion.Usage.OutputTokenCount);
    }
}

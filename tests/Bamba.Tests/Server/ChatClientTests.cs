using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Serving;
using Microsoft.Extensions.AI;

namespace Bamba.Tests.Server;

/// <summary>The in-process <see cref="IChatClient"/>: same tokens as the engine, streaming equals whole, usage, stops, options.</summary>
public class ChatClientTests
{
    private static ServingEngine Engine() =>
        new(BambaModel.Load(Fixtures.Model("tiny-bamba")), new CharCodec(), TestServer.DefaultOptions, "tiny-bamba");

    private static readonly ChatMessage[] Messages = [new(ChatRole.System, "be brief"), new(ChatRole.User, "hello there")];

    private static async Task<int[]> GreedyAsync(ServingEngine engine, int maxTokens)
    {
        var prompt = engine.EncodeChat([new("system", "be brief"), new("user", "hello there")]);
        var (tokens, _) = await engine.Scheduler.RunAsync(new SequenceRequest { Prompt = prompt, MaxNewTokens = maxTokens, EosTokenIds = engine.EosTokenIds });
        return tokens.Select(t => t.Id).ToArray();
    }

    [Fact]
    public async Task ResponseIsTheGreedyAnswerWithUsage()
    {
        using IChatClient client = new BambaChatClient(Engine(), ownsEngine: true);
        var engine = client.GetService<ServingEngine>()!;
        var expected = await GreedyAsync(engine, 10);

        var response = await client.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 10, Temperature = 0 });

        Assert.Equal(engine.Text!.Decode(expected), response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.Equal(engine.EncodeChat([new("system", "be brief"), new("user", "hello there")]).Length, response.Usage!.InputTokenCount);
        Assert.Equal(expected.Length, response.Usage.OutputTokenCount);
        Assert.Equal(expected.Length == 10 ? ChatFinishReason.Length : ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("tiny-bamba", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task StreamingGivesTheSameTextThenUsage()
    {
        using IChatClient client = new BambaChatClient(Engine(), ownsEngine: true);
        var options = new ChatOptions { MaxOutputTokens = 10, Temperature = 0 };
        var whole = await client.GetResponseAsync(Messages, options);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(Messages, options)) updates.Add(u);

        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count > 2);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(whole.Usage!.OutputTokenCount, usage.Details.OutputTokenCount);
        Assert.Equal(whole.FinishReason, updates[^1].FinishReason);
    }

    [Fact]
    public async Task StopSequencesSeedsAndCancellationApply()
    {
        using IChatClient client = new BambaChatClient(Engine(), ownsEngine: true);
        var whole = (await client.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 16, Temperature = 0 })).Text;
        Assert.True(whole.Length >= 4, $"greedy answer '{whole}' too short to cut");
        string stop = whole.Substring(whole.Length / 2, 2);
        var cut = await client.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 16, Temperature = 0, StopSequences = [stop] });
        Assert.Equal(whole[..whole.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);

        var sampled = new ChatOptions { MaxOutputTokens = 12, Temperature = 1.3f, TopK = 50, Seed = 7 };
        Assert.Equal((await client.GetResponseAsync(Messages, sampled)).Text, (await client.GetResponseAsync(Messages, sampled)).Text);

        using var cancel = new CancellationTokenSource();
        var stream = client.GetStreamingResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 400 }, cancel.Token).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { while (await stream.MoveNextAsync()) { } });
        await stream.DisposeAsync();
        var engine = client.GetService<ServingEngine>()!;
        await Bamba.Tests.Scheduling.SchedulerTests.WaitIdle(engine.Scheduler);
    }
}

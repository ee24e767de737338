using System.Text.Json;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Tests.Server;

namespace Bamba.Tests.Hardening;

/// <summary>
/// Token counts near 2^31 never wrap below the context limit: prompt + max_tokens is refused through the scheduler and
/// through both HTTP endpoints (streamed or not), and the KV block count the server reports never goes negative.
/// </summary>
public class OverflowTests
{
    /// <summary>max_tokens values that wrap prompt + max_tokens negative, to int.MinValue exactly, or just past the limit.</summary>
    public static TheoryData<int> HugeMaxTokens => new(int.MaxValue, int.MaxValue - 2, int.MaxValue - 4, 1 << 30, int.MaxValue / 2 + 1);

    [Theory]
    [MemberData(nameof(HugeMaxTokens))]
    public async Task TheSchedulerRefusesAndStillServes(int maxNewTokens)
    {
        using var model = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxContext = 1024, PrefillChunk = 16, MaxStepTokens = 32 });
        var refused = Assert.Throws<BambaException>(() => scheduler.Submit(new SequenceRequest { Prompt = [1, 2, 3, 4, 5], MaxNewTokens = maxNewTokens }));
        Assert.Contains("exceeds the context of 1024", refused.Message);
        Assert.Equal(0, scheduler.Metrics.KvBlocksUsed);
        var (tokens, _) = await scheduler.RunAsync(new SequenceRequest { Prompt = [1, 2, 3], MaxNewTokens = 3, EosTokenIds = [] });
        Assert.Equal(3, tokens.Length);
    }

    [Fact]
    public void BlockCountsOfHugeSequencesDoNotWrap()
    {
        var options = new SchedulerOptions { KvBlockSize = 16, StateBlocks = 3 };
        Assert.Equal((int.MaxValue + 15L) / 16 + 3, options.SequenceBlocks(int.MaxValue));
        Assert.Throws<BambaException>(() => new SchedulerOptions { MaxBatch = int.MaxValue }.Validate());
        Assert.Throws<BambaException>(() => new SchedulerOptions { MaxContext = int.MaxValue }.Validate());
    }

    [Theory]
    [MemberData(nameof(HugeMaxTokens))]
    public async Task BothEndpointsAnswer400AndTheKvGaugeStaysAtZero(int maxTokens)
    {
        await using var s = await TestServer.StartAsync(TestServer.DefaultOptions with { MaxContext = 1024 });
        foreach (bool stream in new[] { false, true })
        {
            string streamField = stream ? "true" : "false";
            var requests = new (string Path, string Body, string Param)[]
            {
                ("/v1/completions", $$"""{"prompt": [1, 2, 3, 4, 5], "max_tokens": {{maxTokens}}, "stream": {{streamField}}}""", "max_tokens"),
                ("/v1/completions", $$"""{"prompt": "abcde", "max_tokens": {{maxTokens}}, "echo": true, "stream": {{streamField}}}""", "max_tokens"),
                ("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": {{maxTokens}}, "stream": {{streamField}}}""", "max_tokens"),
                ("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": {{maxTokens}}, "stream": {{streamField}}}""", "max_tokens"),
            };
            foreach (var (path, body, param) in requests)
            {
                var r = await s.PostAsync(path, body);
                Assert.True(r.Status == 400, $"{path} {body}: {r.Status}");
                var error = r.Body.GetProperty("error");
                Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
                Assert.Contains("maximum context is 1024", error.GetProperty("message").GetString());
            }
        }
        var metrics = await s.MetricsAsync();
        Assert.Equal(0, metrics["bamba_kv_blocks_used"]);
        Assert.Equal(0, metrics["bamba_running_sequences"]);
    }
}

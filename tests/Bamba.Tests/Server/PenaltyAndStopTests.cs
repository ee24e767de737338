using System.Text.Json;
using Bamba.Generation;
using Bamba.Generation.Scheduling;

namespace Bamba.Tests.Server;

/// <summary>presence/frequency penalties and up to four stop strings, through the HTTP API, against the scheduler run directly.</summary>
public sealed class PenaltyAndStopTests
{
    private static readonly int[] Prompt = [5, 6, 7, 5, 6, 7];

    [Fact]
    public async Task PenaltiesReachTheSamplerAsGiven()
    {
        await using var s = await TestServer.StartAsync(withText: false);
        var (status, body, _) = await s.PostAsync("/v1/completions", JsonSerializer.Serialize(new
        {
            prompt = Prompt, max_tokens = 24, temperature = 0, ignore_eos = true, presence_penalty = 2.0, frequency_penalty = 1.5,
        }));
        Assert.Equal(200, status);
        var served = body.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        var (reference, _) = await s.Engine.Scheduler.RunAsync(new SequenceRequest
        {
            Prompt = Prompt, MaxNewTokens = 24,
            Sampling = SamplingOptions.Greedy with { PresencePenalty = 2f, FrequencyPenalty = 1.5f },
        });
        Assert.Equal(reference.Select(t => t.Id), served);
        // And they change something here: plain greedy repeats tokens that the penalties push away.
        var plain = (await s.Engine.Scheduler.RunAsync(new SequenceRequest { Prompt = Prompt, MaxNewTokens = 24 })).Tokens.Select(t => t.Id).ToArray();
        Assert.NotEqual(plain, served);
        Assert.True(served.Distinct().Count() > plain.Distinct().Count(), "penalised greedy should use more distinct tokens");
    }

    [Fact]
    public async Task FourStopStringsEndTheTextAtTheEarliest()
    {
        await using var s = await TestServer.StartAsync();
        var (_, full, _) = await s.PostAsync("/v1/completions", """{"prompt": "hello", "max_tokens": 24, "temperature": 0, "ignore_eos": true}""");
        string text = full.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(text.Length >= 12, $"the greedy text '{text}' is too short");
        // Four stops (one that never occurs): the text ends before whichever comes first.
        string[] stops = [text.Substring(9, 2), text.Substring(11, 1), text.Substring(6, 2), "~~~never"];
        int earliest = stops.Select(t => text.IndexOf(t, StringComparison.Ordinal)).Where(i => i >= 0).Min();
        var (status, body, _) = await s.PostAsync("/v1/completions", JsonSerializer.Serialize(new
        {
            prompt = "hello", max_tokens = 24, temperature = 0, ignore_eos = true, stop = stops,
        }));
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(text[..earliest], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }
}

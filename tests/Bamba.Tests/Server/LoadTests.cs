using System.Net.Http.Json;
using System.Text.Json;
using Bamba.Generation.Scheduling;
using Bamba.Tests.Scheduling;

namespace Bamba.Tests.Server;

/// <summary>
/// 200 concurrent requests of mixed prompt and output lengths, streamed and not, some cancelled mid-stream: every
/// other request completes with exactly the tokens it gets alone, and afterwards no slot, KV block or state is held.
/// Bounded: the tiny model keeps the whole run to seconds on two cores.
/// </summary>
public class LoadTests
{
    private sealed record Job(int Index, int[] Prompt, int MaxTokens, bool Stream, bool Cancel);

    private static Job MakeJob(int i) => new(i, SchedulerTests.Prompt(1 + i * 37 % 120, i), Cancel(i) ? 800 : 1 + i * 13 % 40, i % 3 == 0, Cancel(i));

    private static bool Cancel(int i) => i % 10 == 7;

    [Fact]
    public async Task ConcurrentRequestsMatchTheirSingleRunsAndLeaveNothingBehind()
    {
        await using var s = await TestServer.StartAsync(new SchedulerOptions
        { MaxBatch = 32, MaxQueue = 256, PrefillChunk = 16, MaxStepTokens = 64, MaxContext = 1024 }, withText: false);
        var jobs = Enumerable.Range(0, 200).Select(MakeJob).ToArray();
        var alone = new Dictionary<int, int[]>();
        foreach (var job in jobs.Where(j => !j.Cancel)) alone[job.Index] = await s.GreedyAloneAsync(job.Prompt, job.MaxTokens);
        long stepsBefore = s.Engine.Scheduler.Metrics.StepsTotal;

        using var hangUp = HangUpClient(s);
        var results = await Task.WhenAll(jobs.Select(job => RunAsync(job.Cancel ? hangUp : s.Http, job)));

        foreach (var (job, ids) in jobs.Zip(results))
            if (!job.Cancel) Assert.Equal(alone[job.Index], ids);
        long steps = s.Engine.Scheduler.Metrics.StepsTotal - stepsBefore;
        Assert.True(steps < alone.Values.Sum(a => a.Length) / 4, $"{steps} steps for {alone.Values.Sum(a => a.Length)} tokens: too little batching");

        var idle = await WaitIdleAsync(s);
        Assert.Equal(0, idle["bamba_running_sequences"]);
        Assert.Equal(0, idle["bamba_queue_length"]);
        Assert.Equal(0, idle["bamba_kv_blocks_used"]);
        Assert.Equal(0, idle["bamba_sequence_state_bytes"]);
        Assert.Equal(0, idle["bamba_prefix_cache_pinned_points"]);
        Assert.True(idle["bamba_prefix_cache_bytes"] <= idle["bamba_prefix_cache_budget_bytes"]);
        // A hung-up stream whose tokens were all generated before the server noticed ends normally instead.
        Assert.InRange(idle["bamba_requests_cancelled_total"], 1, jobs.Count(j => j.Cancel));
        Assert.Equal(0, idle["bamba_requests_rejected_total"]);
        Assert.Equal(200 + alone.Count, idle["bamba_requests_total"]); // the single runs went through the same scheduler
    }

    /// <summary>
    /// A client whose disposed responses close their connection. HttpClient's default handler instead reads the rest
    /// of an abandoned response (up to 1 MB, for 2 s) to reuse the connection, so on a fast machine the server streamed
    /// all 800 tokens of a "hung-up" request and never saw the client go.
    /// </summary>
    private static HttpClient HangUpClient(TestServer s)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = s.Server.Address, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestServer.Key);
        return client;
    }

    private static async Task<int[]> RunAsync(HttpClient http, Job job)
    {
        var body = new { model = TestServer.ModelId, prompt = job.Prompt, max_tokens = job.MaxTokens, temperature = 0, stream = job.Stream || job.Cancel, ignore_eos = job.Cancel };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        if (!body.stream)
        {
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            return Ids(json.GetProperty("choices")[0]);
        }
        var ids = new List<int>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            foreach (var choice in JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices").EnumerateArray())
                ids.AddRange(Ids(choice));
            if (job.Cancel && ids.Count >= 3) break; // hang up mid-stream: disposing the response closes the connection
        }
        return ids.ToArray();
    }

    private static int[] Ids(JsonElement choice) =>
        choice.TryGetProperty("token_ids", out var ids) ? ids.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [];

    private static async Task<Dictionary<string, double>> WaitIdleAsync(TestServer s)
    {
        var m = await s.MetricsAsync();
        for (int i = 0; i < 200 && (m["bamba_running_sequences"] > 0 || m["bamba_queue_length"] > 0); i++)
        {
            await Task.Delay(50);
            m = await s.MetricsAsync();
        }
        return m;
    }
}

using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bamba.Cli.Bench;

/// <summary>One load level's figures: throughput and client-side latency percentiles (seconds).</summary>
internal sealed record ServeLoadResult(
    int Concurrency, int Requests, int Failed, double WallSeconds, long PromptTokens, long OutputTokens,
    double RequestsPerSecond, double OutputTokensPerSecond,
    double TtftP50, double TtftP90, double TtftP99, double ItlP50, double ItlP90, double ItlP99, double LatencyP50, double LatencyP90);

/// <summary>
/// A closed-loop load generator for any OpenAI-compatible server: <c>concurrency</c> clients each send streamed
/// /v1/completions requests (token-id prompts, ignore_eos, greedy) back to back until <c>requests</c> are done,
/// timing the first token, the gaps between tokens and the whole request as the client sees them.
/// </summary>
internal sealed class ServeLoad(HttpClient http, string model, int promptTokens, int maxTokens, int vocab)
{
    /// <summary>One request as the client saw it; <see cref="Ids"/> are the generated ids where the server returns them.</summary>
    internal sealed record Sample(double Ttft, List<double> Gaps, double Latency, int PromptTokens, int OutputTokens, List<int> Ids);

    public async Task<ServeLoadResult> RunAsync(int requests, int concurrency)
    {
        var samples = new Sample?[requests];
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < requests;)
            {
                try { samples[i] = await OneAsync(Prompt(i)); }
                catch (HttpRequestException) { samples[i] = null; }
            }
        }));
        double wall = clock.Elapsed.TotalSeconds;
        var ok = samples.Where(s => s is not null).Select(s => s!).ToList();
        var gaps = ok.SelectMany(s => s.Gaps).ToList();
        long output = ok.Sum(s => (long)s.OutputTokens);
        return new ServeLoadResult(concurrency, requests, requests - ok.Count, wall, ok.Sum(s => (long)s.PromptTokens), output,
            ok.Count / wall, output / wall,
            Percentile(ok.Select(s => s.Ttft), 50), Percentile(ok.Select(s => s.Ttft), 90), Percentile(ok.Select(s => s.Ttft), 99),
            Percentile(gaps, 50), Percentile(gaps, 90), Percentile(gaps, 99),
            Percentile(ok.Select(s => s.Latency), 50), Percentile(ok.Select(s => s.Latency), 90));
    }

    /// <summary>Prompt i: fixed random ids (seeded by i), so every run and every level sends the same requests.</summary>
    private int[] Prompt(int i)
    {
        var random = new Random(1000 + i);
        return Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, vocab)).ToArray();
    }

    internal async Task<Sample> OneAsync(int[] prompt)
    {
        var body = new CompletionRequestBody(model, prompt, maxTokens);
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(body, CliJson.Default.CompletionRequestBody) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double first = -1, last = 0;
        var gaps = new List<double>();
        var ids = new List<int>();
        int promptCount = prompt.Length, outputCount = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            double now = clock.Elapsed.TotalSeconds;
            using var chunk = JsonDocument.Parse(line.AsMemory(6));
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                promptCount = usage.GetProperty("prompt_tokens").GetInt32();
                outputCount = usage.GetProperty("completion_tokens").GetInt32();
            }
            if (!CarriesToken(chunk.RootElement)) continue;
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
                if (choice.TryGetProperty("token_ids", out var tokenIds) && tokenIds.ValueKind == JsonValueKind.Array)
                    ids.AddRange(tokenIds.EnumerateArray().Select(t => t.GetInt32()));
            if (first < 0) first = now; else gaps.Add(now - last);
            last = now;
        }
        return new Sample(first, gaps, clock.Elapsed.TotalSeconds, promptCount, outputCount, ids);
    }

    /// <summary>A chunk that delivers a token (not the finish or usage chunk).</summary>
    private static bool CarriesToken(JsonElement chunk) =>
        chunk.GetProperty("choices").EnumerateArray().Any(c => c.TryGetProperty("token_ids", out _)
            || (c.TryGetProperty("text", out var t) && t.GetString()!.Length > 0)
            || c.TryGetProperty("logprobs", out _));

    internal static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}

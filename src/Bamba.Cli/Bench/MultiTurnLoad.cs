using System.Diagnostics;

namespace Bamba.Cli.Bench;

/// <summary>The conversations of a multi-turn replay: how many, how long, and how big each part is (tokens).</summary>
internal sealed record MultiTurnShape(int Conversations, int Turns, int SystemTokens, int UserMin, int UserMax, int ReplyTokens);

/// <summary>One replay's figures: time to first token per turn (mean over the conversations, seconds) and throughput.</summary>
internal sealed record MultiTurnResult(string Label, double[] TtftMean, double[] TtftP50, int[] PromptTokensMean, double WallSeconds,
    long OutputTokens, double OutputTokensPerSecond, long CacheHitTokens, long CacheMissTokens, int Failed, long NewTokens)
{
    /// <summary>
    /// The most prompt tokens any cache could serve, as a share of all prompt tokens: every token but those no earlier
    /// request held (the system prompt once, and each user message).
    /// </summary>
    public double CacheableShare(long promptTokens) => promptTokens == 0 ? 0 : 1.0 - (double)NewTokens / promptTokens;
}

/// <summary>
/// Replays chat conversations against an OpenAI-compatible server: every conversation starts with the same system
/// prompt, and each turn sends the whole history (system prompt, earlier user messages and the replies the server gave)
/// plus a new user message, as a chat client does. All conversations run at once, each one turn after another.
/// Prompts are token ids, so the server must return the generated ids (a model served without a tokenizer).
/// </summary>
internal sealed class MultiTurnLoad(HttpClient http, string model, int vocab, MultiTurnShape shape)
{
    public async Task<MultiTurnResult> RunAsync(string label, Func<(long Hit, long Miss)> cacheTokens)
    {
        var ttft = new double[shape.Conversations][];
        var prompts = new int[shape.Conversations][];
        var load = new ServeLoad(http, model, 0, shape.ReplyTokens, vocab);
        var system = Tokens(new Random(7), shape.SystemTokens);
        var (hit0, miss0) = cacheTokens();
        long output = 0, newTokens = system.Length;
        int failed = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, shape.Conversations).Select(async c =>
        {
            ttft[c] = new double[shape.Turns];
            prompts[c] = new int[shape.Turns];
            var random = new Random(100 + c);
            var history = new List<int>(system);
            for (int turn = 0; turn < shape.Turns; turn++)
            {
                int user = random.Next(shape.UserMin, shape.UserMax + 1);
                history.AddRange(Tokens(random, user));
                Interlocked.Add(ref newTokens, user);
                prompts[c][turn] = history.Count;
                var sample = await load.OneAsync([.. history]);
                if (sample.Ids.Count != shape.ReplyTokens) { Interlocked.Increment(ref failed); return; }
                ttft[c][turn] = sample.Ttft;
                Interlocked.Add(ref output, sample.OutputTokens);
                history.AddRange(sample.Ids);
            }
        }));
        double wall = clock.Elapsed.TotalSeconds;
        var (hit, miss) = cacheTokens();
        var turns = Enumerable.Range(0, shape.Turns).ToArray();
        return new MultiTurnResult(label, turns.Select(t => ttft.Average(c => c[t])).ToArray(),
            turns.Select(t => ServeLoad.Percentile(ttft.Select(c => c[t]), 50)).ToArray(),
            turns.Select(t => (int)prompts.Average(c => c[t])).ToArray(), wall, output, output / wall, hit - hit0, miss - miss0, failed, newTokens);
    }

    private int[] Tokens(Random random, int count) => Enumerable.Range(0, count).Select(_ => random.Next(3, vocab)).ToArray();
}

using Bamba.Architectures;
using System.Diagnostics;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Generation.Scheduling;

namespace Bamba.Backends.Cuda.Bench;

/// <summary>Batch-1 decode: a prompt, then new tokens one at a time (greedy on the GPU, ids only back to the host).</summary>
public sealed record DecodeResult(int PromptTokens, int NewTokens, double MsPerToken, long BytesPerToken, double FloorMs, long PeakBytes)
{
    public double TokensPerSecond => 1000 / MsPerToken;
    /// <summary>The bandwidth floor over the measured time: 1 = every step moves only the weights, at the copy rate.</summary>
    public double FractionOfFloor => FloorMs / MsPerToken;
}

/// <summary>One prompt in one call; the ceiling is the GEMM rate over 2 × (matrix parameters every token multiplies) per token.</summary>
public sealed record PrefillResult(int Tokens, double TokensPerSecond, double CeilingTokensPerSecond, long PeakBytes)
{
    public double FractionOfCeiling => TokensPerSecond / CeilingTokensPerSecond;
}

/// <summary>
/// Many requests through the continuous-batching scheduler at once: output tokens per second of wall time.
/// <see cref="Concurrent"/> is how many ran at a time: the requests, or fewer where their states do not fit in memory.
/// </summary>
public sealed record ThroughputResult(string Model, int Requests, int Concurrent, int PromptTokens, int OutputTokens, double Seconds, long Steps,
    long PeakBytes)
{
    public double OutputTokensPerSecond => (double)Requests * OutputTokens / Seconds;
}

/// <summary>The scenarios of <c>bamba bench --device cuda</c>, each on a loaded <see cref="CudaModel"/>.</summary>
public static class GpuScenarios
{
    public static DecodeResult Decode(CudaModel model, double copyGBps, int promptTokens, int newTokens)
    {
        var prompt = RandomTokens(model.Config, promptTokens, seed: 1);
        using (var warm = model.CreateState()) GreedyRun(model, warm, prompt, 4);
        using var peak = new PeakMemory(model.Device);
        using var state = model.CreateState();
        GreedyRun(model, state, prompt, 1);
        var clock = Stopwatch.StartNew();
        GreedyRun(model, state, null, newTokens);
        double ms = clock.Elapsed.TotalMilliseconds / newTokens;
        long bytes = model.DecodeWeightBytes;
        return new DecodeResult(promptTokens, newTokens, ms, bytes, bytes / (copyGBps * 1e9) * 1000, peak.PeakBytes);
    }

    public static PrefillResult Prefill(CudaModel model, double gemmTflops, int tokens)
    {
        var prompt = RandomTokens(model.Config, tokens, seed: 2);
        using (var warm = model.CreateState()) GreedyRun(model, warm, prompt, 0);
        using var peak = new PeakMemory(model.Device);
        using var state = model.CreateState();
        var clock = Stopwatch.StartNew();
        GreedyRun(model, state, prompt, 0);
        double seconds = clock.Elapsed.TotalSeconds;
        double ceiling = gemmTflops * 1e12 / (2.0 * MatrixParametersPerToken(model.Config));
        return new PrefillResult(tokens, tokens / seconds, ceiling, peak.PeakBytes);
    }

    /// <summary>
    /// <paramref name="requests"/> requests of random prompts submitted together, each generating exactly
    /// <paramref name="outputTokens"/> tokens (no stop ids); the scheduler admits them all and cuts prompts into chunks.
    /// </summary>
    public static ThroughputResult Throughput(CudaModel model, string name, int requests, int promptTokens, int outputTokens,
        int prefillChunk, int maxStepTokens)
    {
        maxStepTokens = Math.Max(maxStepTokens, prefillChunk);
        var options = new SchedulerOptions
        {
            MaxBatch = 2, MaxQueue = requests, PrefillChunk = prefillChunk, MaxStepTokens = maxStepTokens, MaxContext = promptTokens + outputTokens,
        };
        // A short warm-up outside the timing (first GEMM plans, scratch buffers); plans for other batch sizes are made
        // inside it, as a server makes them.
        RunRequests(model, options, 2, promptTokens, 2);
        // As many at a time as fit in the memory left, each with its whole KV reserved up front (the scheduler sizes the
        // model's KV pool to them).
        int fit = model.SequencesThatFit(promptTokens + outputTokens, model.StepWorkingBytes(maxStepTokens + requests));
        if (fit == 0) throw new BambaException($"not one sequence of {promptTokens + outputTokens} tokens fits in the GPU memory left");
        int concurrent = Math.Min(requests, fit);
        using var peak = new PeakMemory(model.Device);
        var clock = Stopwatch.StartNew();
        long steps = RunRequests(model, options with { MaxBatch = concurrent }, requests, promptTokens, outputTokens);
        return new ThroughputResult(name, requests, concurrent, promptTokens, outputTokens, clock.Elapsed.TotalSeconds, steps, peak.PeakBytes);
    }

    private static long RunRequests(CudaModel model, SchedulerOptions options, int requests, int promptTokens, int outputTokens)
    {
        using var scheduler = new ContinuousBatchScheduler(model, options);
        var runs = Enumerable.Range(0, requests).Select(i => scheduler.RunAsync(new SequenceRequest
        {
            Prompt = RandomTokens(model.Config, promptTokens, seed: 100 + i), MaxNewTokens = outputTokens, EosTokenIds = [],
        })).ToArray();
        var results = Task.WhenAll(runs).GetAwaiter().GetResult();
        foreach (var (tokens, result) in results)
            if (tokens.Length != outputTokens)
                throw new InvalidOperationException($"a benchmark request ended after {tokens.Length} of {outputTokens} tokens ({result.Finish})");
        return scheduler.Metrics.StepsTotal;
    }

    /// <summary>Kernel time of <paramref name="steps"/> batch-1 decode steps after a prompt (see <see cref="KernelProfile"/>).</summary>
    public static ProfileEntry[] ProfileDecode(CudaModel model, int promptTokens, int steps)
    {
        using var state = model.CreateState();
        GreedyRun(model, state, RandomTokens(model.Config, promptTokens, seed: 1), 1);
        return Profiled(model, () => GreedyRun(model, state, null, steps));
    }

    /// <summary>Kernel time of <paramref name="steps"/> decode steps of <paramref name="batch"/> sequences at once, each after its own prompt.</summary>
    public static ProfileEntry[] ProfileDecodeBatch(CudaModel model, int batch, int promptTokens, int steps)
    {
        int longest = promptTokens + steps + 1;
        model.ReserveKvCache(batch, longest, (long)batch * longest); // one allocation, not a doubling pool's copies
        var states = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        try
        {
            var greedy = Enumerable.Repeat(SamplingOptions.Greedy, batch).ToArray();
            var uniforms = new float[batch];
            var next = states.Select((s, i) => model.StepAndSample([s], [RandomTokens(model.Config, promptTokens, seed: 10 + i)], [SamplingOptions.Greedy], [0f])[0]).ToArray();
            // One step outside the profile: the batch's first decode makes its GEMM plans (timing the candidates) and grows the caches.
            next = model.StepAndSample(states, next.Select(id => new SequenceInput(new[] { id })).ToArray(), greedy, uniforms);
            return Profiled(model, () =>
            {
                for (int i = 0; i < steps; i++)
                    next = model.StepAndSample(states, next.Select(id => new SequenceInput(new[] { id })).ToArray(), greedy, uniforms);
            });
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
    }

    /// <summary>Kernel time of one prefill of <paramref name="tokens"/> tokens.</summary>
    public static ProfileEntry[] ProfilePrefill(CudaModel model, int tokens)
    {
        using var state = model.CreateState();
        var prompt = RandomTokens(model.Config, tokens, seed: 2);
        return Profiled(model, () => GreedyRun(model, state, prompt, 0));
    }

    private static ProfileEntry[] Profiled(CudaModel model, Action work)
    {
        using var profile = new KernelProfile(model.Device);
        model.Ops.Profile = profile;
        try { work(); }
        finally { model.Ops.Profile = null; }
        return profile.Summary();
    }

    /// <summary>Feeds <paramref name="prompt"/> (when given), then <paramref name="steps"/> greedy tokens.</summary>
    private static void GreedyRun(CudaModel model, CudaSequenceState state, int[]? prompt, int steps)
    {
        int[] next = prompt is null ? [1] : model.StepAndSample([state], [prompt], [SamplingOptions.Greedy], [0f]);
        for (int i = 0; i < steps; i++) next = model.StepAndSample([state], [next], [SamplingOptions.Greedy], [0f]);
    }

    private static int[] RandomTokens(BambaConfig c, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(3, c.VocabSize)).ToArray();
    }

    /// <summary>
    /// Parameters of the matrices every prompt token is multiplied by: the layers' projections, with only k of E routed
    /// experts. The embedding is a lookup and the LM head runs on the last token only, so neither counts.
    /// </summary>
    public static long MatrixParametersPerToken(BambaConfig c) =>
        Specs(c).Where(s => s.Layer >= 0 && s.Shape.Length > 1 && s.Role != TensorRole.MambaConv).Sum(Count)
        - ExpertParameters(c) + ActiveExpertParameters(c);

    /// <summary>Every parameter, as a model card counts them (a tied head once).</summary>
    public static long Parameters(BambaConfig c) => Specs(c).Sum(Count);

    private static IEnumerable<TensorSpec> Specs(BambaConfig c) => ArchitectureRegistry.For(c).Tensors(c);

    private static long Count(TensorSpec s) => s.Shape.Aggregate(1L, (a, b) => a * b);

    private static bool IsExpert(TensorSpec s) =>
        s.Role is TensorRole.ExpertsGateUp or TensorRole.ExpertsDown or TensorRole.ExpertUp or TensorRole.ExpertDown;

    private static long ExpertParameters(BambaConfig c) => Specs(c).Where(IsExpert).Sum(Count);

    private static long ActiveExpertParameters(BambaConfig c) =>
        c.NumExperts == 0 ? 0 : ExpertParameters(c) / c.NumExperts * c.NumExpertsPerToken;
}

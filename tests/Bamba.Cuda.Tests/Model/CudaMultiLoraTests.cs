using Bamba.Backends.Cuda;
using Bamba.Configuration;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Several LoRA adapters on the GPU, picked per sequence (<c>serve --lora NAME=DIR --device cuda</c>): a batch mixing
/// the base and two adapters, on top of the model's own adapter, gives each sequence the logits it gets alone on a
/// CUDA model loaded with only its adapter (1e-4, the batched-vs-alone rule of CudaModelParityTests) and the CPU's with
/// the same adapters (fp32, 1e-3 · max(1, max |cpu|)); prompts take the chunked paths, the decode step the batched one;
/// bf16's graphed decode gives the plain decode's tokens for a picked adapter; through the scheduler (GPU sampling,
/// prefix cache per adapter) each request gets the greedy tokens it gets alone.
/// </summary>
public sealed class CudaMultiLoraTests : IDisposable
{
    private const double Fp32Tol = 1e-3, AloneTol = 1e-4;
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-cuda-multilora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Models() => new(["tiny-bamba", .. Fixtures.FamilyModelNames]);

    /// <summary>A rank-3 PEFT adapter on every target, B random (seeded) and large enough to move the logits well past the tolerance; its directory.</summary>
    private string AdapterDirectory(string name, int seed)
    {
        string dir = Fixtures.Model(name);
        using var store = WeightStore.Open(dir);
        var lora = new LoraSet(ParameterSet.FromStore(BambaConfigReader.Load(Path.Combine(dir, "config.json")), store),
            new LoraSettings(3, 5f, 0f, LoraSettings.AllTargets));
        lora.Initialize((ulong)seed);
        var rng = new SplitMix64((ulong)seed * 7 + 1);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.2);
        string output = Path.Combine(_dir, $"{name}-{seed}");
        LoraFiles.Save(output, lora, null);
        return output;
    }

    private IReadOnlyDictionary<string, LowRankDelta> Adapter(string name, int seed) =>
        LoraFiles.ReadDeltas(AdapterDirectory(name, seed), BambaConfigReader.Load(Path.Combine(Fixtures.Model(name), "config.json")));

    /// <summary>The model's own adapter (or none) and two to pick, "a" and "b".</summary>
    private ModelAdapters Adapters(string name, bool own) =>
        new(own ? Adapter(name, 11) : null, [new NamedAdapter("a", Adapter(name, 3)), new NamedAdapter("b", Adapter(name, 8))]);

    /// <summary>The same adapters with sequence adapter <paramref name="pick"/> (0: none) as the only picked one, made the model's own.</summary>
    private static ModelAdapters Alone(ModelAdapters all, int pick)
    {
        if (pick == 0) return new(all.Shared, []);
        if (all.Shared is null) return ModelAdapters.Only(all.Picked[pick - 1].Deltas);
        return new(all.Shared, [all.Picked[pick - 1]]); // picked 1 of a model with one adapter to pick
    }

    private static int[] Tokens(int seed, int n, int vocab)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => random.Next(3, vocab)).ToArray();
    }

    /// <summary>Base, a, a (neighbours), b: four prompts in one step, then one decode token each in one step.</summary>
    private static readonly int[] Picks = [0, 1, 1, 2];

    private static (float[][] Prompt, float[][] Decode) Mixed(ISequenceModel model, int[] picks, int vocab)
    {
        var states = picks.Select(p => { var s = model.CreateState(); s.Adapter = p; return s; }).ToArray();
        try
        {
            var prompts = picks.Select((_, i) => new SequenceInput(Tokens(i, 5 + 3 * i, vocab))).ToArray();
            var prompt = model.StepAllLogits(states, prompts);
            var decode = model.Step(states, picks.Select((_, i) => new SequenceInput(Tokens(20 + i, 1, vocab))).ToArray());
            return (prompt, decode);
        }
        finally { foreach (var s in states) s.Dispose(); }
    }

    [Theory, MemberData(nameof(Models))]
    public void Fp32MixedBatchGivesEachSequenceItsLogitsAloneAndTheCpus(string name) => AssertMixed(name, own: false);

    [Theory, MemberData(nameof(Models))]
    public void Fp32PickedAdaptersAddToTheModelsOwn(string name) => AssertMixed(name, own: true);

    private void AssertMixed(string name, bool own)
    {
        Gpu.Require();
        string dir = Fixtures.Model(name);
        var adapters = Adapters(name, own);
        int vocab = BambaConfigReader.Load(Path.Combine(dir, "config.json")).VocabSize;
        (float[][] Prompt, float[][] Decode) gpu, cpu;
        using (var cuda = CudaModel.Load(dir, adapters, CudaPrecision.Float32)) gpu = Mixed(cuda, Picks, vocab);
        using (var reference = BambaModel.Load(dir, adapters)) cpu = Mixed(reference, Picks, vocab);
        using var unpicked = CudaModel.Load(dir, Alone(adapters, 0), CudaPrecision.Float32);
        for (int i = 0; i < Picks.Length; i++)
        {
            Close.Assert(cpu.Prompt[i], gpu.Prompt[i], Fp32Tol, $"{name} prompt {i} (adapter {Picks[i]}) against the CPU");
            Close.Assert(cpu.Decode[i], gpu.Decode[i], Fp32Tol, $"{name} decode {i} (adapter {Picks[i]}) against the CPU");
            var solo = Alone(adapters, Picks[i]);
            using var single = CudaModel.Load(dir, solo, CudaPrecision.Float32);
            var (prompt, decode) = Solo(single, solo.Picked.Count, i, vocab); // picked 1 where the model keeps its own adapter, else none
            Close.Assert(prompt, gpu.Prompt[i], AloneTol, $"{name} prompt {i} (adapter {Picks[i]}) against it alone");
            Close.Assert(decode, gpu.Decode[i], AloneTol, $"{name} decode {i} (adapter {Picks[i]}) against it alone");
            if (Picks[i] == 0) continue;
            var without = Solo(unpicked, 0, i, vocab).Decode;
            double moved = without.Zip(decode, (p, q) => Math.Abs(p - q)).Max();
            Assert.True(moved > 20 * Fp32Tol * Math.Max(1, without.Max(Math.Abs)), $"{name}: adapter {Picks[i]} moved sequence {i}'s logits by only {moved}");
        }
    }

    /// <summary>Sequence <paramref name="index"/>'s prompt and decode token of <see cref="Mixed"/>, run alone with adapter <paramref name="pick"/>.</summary>
    private static (float[] Prompt, float[] Decode) Solo(ISequenceModel model, int pick, int index, int vocab)
    {
        using var state = model.CreateState();
        state.Adapter = pick;
        var prompt = model.StepAllLogits([state], [new SequenceInput(Tokens(index, 5 + 3 * index, vocab))])[0];
        var decode = model.Step([state], [new SequenceInput(Tokens(20 + index, 1, vocab))])[0];
        return (prompt, decode);
    }

    /// <summary>bf16: the graphed decode of a sequence that picked an adapter gives the plain decode's tokens, and another adapter other tokens' logits.</summary>
    [Fact]
    public void Bf16GraphedDecodeKeepsTheSequencesAdapter()
    {
        Gpu.Require();
        string dir = Fixtures.Model("tiny-bamba");
        using var cuda = CudaModel.Load(dir, Adapters("tiny-bamba", own: false), CudaPrecision.BFloat16);
        var prompt = Tokens(9, 23, cuda.Config.VocabSize);
        int[] Greedy(bool graphs, int pick)
        {
            cuda.UseGraphs = graphs;
            using var state = cuda.CreateState();
            state.Adapter = pick;
            var greedy = new SamplingOptions { Temperature = 0 };
            int next = cuda.StepAndSample([state], [new SequenceInput(prompt)], [greedy], [0f])[0];
            var tokens = new List<int> { next };
            for (int i = 0; i < 12; i++) tokens.Add(next = cuda.StepAndSample([state], [new SequenceInput(new[] { next })], [greedy], [0f])[0]);
            return [.. tokens];
        }
        for (int pick = 0; pick <= 2; pick++) Assert.Equal(Greedy(graphs: false, pick), Greedy(graphs: true, pick));
        Assert.NotEqual(Greedy(graphs: true, 1), Greedy(graphs: true, 2));
    }

    [Fact]
    public async Task TheSchedulerBatchesAdaptersTogetherAndCachesPrefixesPerAdapter()
    {
        Gpu.Require();
        using var cuda = CudaModel.Load(Fixtures.Model("tiny-bamba"), Adapters("tiny-bamba", own: false), CudaPrecision.Float32);
        int vocab = cuda.Config.VocabSize;
        var options = new SchedulerOptions { MaxBatch = 8, MaxQueue = 64, PrefillChunk = 16, MaxStepTokens = 64, MaxContext = 256, PrefixCacheBytes = 256 << 20 };
        // The same prompt under each adapter (a prefix cache keyed by tokens alone would hand one adapter's state to another).
        var shared = Tokens(1, 40, vocab);
        var requests = Enumerable.Range(0, 9).Select(i => new SequenceRequest
        {
            Prompt = i < 3 ? shared : Tokens(10 + i, 20 + i, vocab), MaxNewTokens = 6, EosTokenIds = [], Adapter = i % 3,
        }).ToArray();
        var alone = new int[requests.Length][];
        for (int i = 0; i < requests.Length; i++)
        {
            using var plain = new ContinuousBatchScheduler(cuda, options with { PrefixCacheBytes = 0 });
            alone[i] = (await plain.RunAsync(requests[i], TestContext.Current.CancellationToken)).Tokens.Select(t => t.Id).ToArray();
        }
        using (var together = new ContinuousBatchScheduler(cuda, options))
        {
            var first = await Task.WhenAll(requests.Select(r => together.RunAsync(r)));
            var again = await Task.WhenAll(requests.Select(r => together.RunAsync(r))); // now from the prefix cache
            Assert.True(together.Metrics.PrefixHitTokens > 0, "the second round should resume from cached prefixes");
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(alone[i], first[i].Tokens.Select(t => t.Id));
                Assert.Equal(alone[i], again[i].Tokens.Select(t => t.Id));
            }
        }
        Assert.NotEqual(alone[0], alone[1]); // the shared prompt's tokens differ by adapter
        Assert.Equal(cuda.KvBlocks, cuda.FreeKvBlocks);
    }

    [Fact]
    public void AnAdapterTheModelDoesNotHaveIsRefused()
    {
        Gpu.Require();
        using var cuda = CudaModel.Load(Fixtures.Model("tiny-bamba"), Adapters("tiny-bamba", own: false), CudaPrecision.Float32);
        Assert.Equal(["a", "b"], cuda.Adapters);
        using var state = cuda.CreateState();
        state.Adapter = 3;
        Assert.Throws<ArgumentException>(() => cuda.Step([state], [new SequenceInput(new[] { 5 })]));
    }

    /// <summary><c>serve --lora NAME=DIR --device cuda</c> loads the adapters and gets as far as the port (it refused before).</summary>
    [Fact]
    public void ServeTakesNamedAdaptersOnTheGpu()
    {
        Gpu.Require();
        string a = AdapterDirectory("tiny-bamba", 3);
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        string port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString();
        var (code, _, err) = CliCall.Run("serve", "--model", Fixtures.Model("tiny-bamba"), "--port", port, "--device", "cuda", "--lora", $"a={a}");
        Assert.Equal(2, code);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", err);
    }
}

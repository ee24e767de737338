using Bamba.Backends.Cuda;
using Bamba.Configuration;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// A PEFT LoRA adapter applied unmerged on the GPU (<c>--lora DIR --device cuda</c>) against the CPU model with the
/// same adapter: fp32 logits within the CUDA parity tolerance (1e-3 · max(1, max |cpu|)) for a prefill, a decode step
/// and a mixed batch, for Bamba and every family (gate|up, fused gate|up, squared-ReLU MLPs, shared experts); bf16 mode
/// within the bf16 parity rule, and its CUDA-graph decode gives the tokens of the plain one.
/// </summary>
public sealed class CudaLoraInferenceTests : IDisposable
{
    private const double Fp32Tol = 1e-3;
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-cuda-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Models() => new(["tiny-bamba", .. Fixtures.FamilyModelNames]);

    /// <summary>Rank-3 adapters on every target, A as PEFT initialises it and B random and large enough to move the logits well past the tolerance.</summary>
    private string Adapter(string name)
    {
        string dir = Fixtures.Model(name);
        using var store = WeightStore.Open(dir);
        var parameters = ParameterSet.FromStore(BambaConfigReader.Load(dir), store);
        var lora = new LoraSet(parameters, new LoraSettings(3, 5f, 0f, LoraSettings.AllTargets));
        lora.Initialize(seed: 4);
        var rng = new SplitMix64(9);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.2);
        string output = Path.Combine(_dir, name);
        LoraFiles.Save(output, lora, null);
        return output;
    }

    private (BambaModel Cpu, CudaModel Cuda) Load(string name, CudaPrecision precision)
    {
        Gpu.Require();
        string dir = Fixtures.Model(name);
        var deltas = LoraFiles.ReadDeltas(Adapter(name), BambaConfigReader.Load(Path.Combine(dir, "config.json")));
        return (BambaModel.Load(dir, deltas), CudaModel.Load(dir, precision, lora: deltas));
    }

    private static int[] Tokens(int seed, int n, int vocab)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => random.Next(3, vocab)).ToArray();
    }

    [Theory, MemberData(nameof(Models))]
    public void Fp32PrefillAndDecodeMatchTheCpuWithTheAdapter(string name)
    {
        var (cpu, cuda) = Load(name, CudaPrecision.Float32);
        using var _ = cpu;
        using var __ = cuda;
        int vocab = cuda.Config.VocabSize;
        var prompt = Tokens(1, 37, vocab);
        using var cpuState = cpu.CreateState();
        using var gpuState = cuda.CreateState();
        var expected = cpu.StepAllLogits([cpuState], [new SequenceInput(prompt)])[0];
        Close.Assert(expected, cuda.StepAllLogits([gpuState], [new SequenceInput(prompt)])[0], Fp32Tol, $"{name} prefill with the adapter");
        using (var plain = CudaModel.Load(Fixtures.Model(name), CudaPrecision.Float32))
        using (var plainState = plain.CreateState())
        {
            var base_ = plain.StepAllLogits([plainState], [new SequenceInput(prompt)])[0];
            double moved = expected.Zip(base_, (a, b) => Math.Abs(a - b)).Max(), scale = Math.Max(1, expected.Max(Math.Abs));
            Assert.True(moved > 20 * Fp32Tol * scale, $"{name}: the adapter moved the logits by only {moved} (scale {scale})");
        }
        foreach (int token in Tokens(2, 4, vocab))
            Close.Assert(cpu.Step([cpuState], [new SequenceInput(new[] { token })])[0], cuda.Step([gpuState], [new SequenceInput(new[] { token })])[0], Fp32Tol,
                $"{name} decode step with the adapter");
    }

    /// <summary>Two decoding sequences and a prompt chunk in one step (the batched-decode and chunked paths together).</summary>
    [Theory, MemberData(nameof(Models))]
    public void Fp32MixedStepMatchesTheCpuWithTheAdapter(string name)
    {
        var (cpu, cuda) = Load(name, CudaPrecision.Float32);
        using var _ = cpu;
        using var __ = cuda;
        int vocab = cuda.Config.VocabSize;
        int[][] prompts = [Tokens(3, 9, vocab), Tokens(4, 21, vocab), Tokens(5, 5, vocab)];
        int[][] next = [Tokens(6, 1, vocab), Tokens(7, 1, vocab), Tokens(8, 12, vocab)];
        var cpuStates = prompts.Select(_ => (SequenceState)cpu.CreateState()).ToArray();
        var gpuStates = prompts.Select(_ => (SequenceState)cuda.CreateState()).ToArray();
        cpu.Step(cpuStates, prompts.Select(p => new SequenceInput(p)).ToArray());
        cuda.Step(gpuStates, prompts.Select(p => new SequenceInput(p)).ToArray());
        var expected = cpu.Step(cpuStates, next.Select(n => new SequenceInput(n)).ToArray());
        var actual = cuda.Step(gpuStates, next.Select(n => new SequenceInput(n)).ToArray());
        for (int i = 0; i < prompts.Length; i++) Close.Assert(expected[i], actual[i], Fp32Tol, $"{name} sequence {i} of a mixed step");
        foreach (var s in cpuStates.Concat(gpuStates)) s.Dispose();
    }

    /// <summary>bf16: logits' cosine with the CPU's ≥ 0.999 (the bf16 parity rule); the graphed decode (GEMV, adapter GEMMs captured) gives the plain decode's tokens.</summary>
    [Theory, MemberData(nameof(Models))]
    public void Bf16DecodeFollowsTheCpuAndGraphsChangeNothing(string name)
    {
        var (cpu, cuda) = Load(name, CudaPrecision.BFloat16);
        using var _ = cpu;
        using var __ = cuda;
        int vocab = cuda.Config.VocabSize;
        var prompt = Tokens(9, 23, vocab);
        using (var cpuState = cpu.CreateState())
        using (var gpuState = cuda.CreateState())
        {
            var expected = cpu.Step([cpuState], [new SequenceInput(prompt)])[0];
            var actual = cuda.Step([gpuState], [new SequenceInput(prompt)])[0];
            Assert.True(Close.Cosine(expected, actual) >= 0.999, $"{name}: bf16 logits' cosine {Close.Cosine(expected, actual)}");
        }
        int[] Greedy(bool graphs)
        {
            cuda.UseGraphs = graphs;
            using var state = cuda.CreateState();
            var greedy = new SamplingOptions { Temperature = 0 };
            int next = cuda.StepAndSample([state], [new SequenceInput(prompt)], [greedy], [0f])[0];
            var tokens = new List<int> { next };
            for (int i = 0; i < 8; i++) tokens.Add(next = cuda.StepAndSample([state], [new SequenceInput(new[] { next })], [greedy], [0f])[0]);
            return [.. tokens];
        }
        Assert.Equal(Greedy(graphs: false), Greedy(graphs: true));
    }
}

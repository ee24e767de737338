using System.Reflection;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Tests.Cli;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;
using Xunit.Abstractions;

namespace Bamba.Tests.Training;

/// <summary>
/// Activation recomputation (<c>bamba train --recompute-activations</c>, gradient checkpointing): each layer keeps
/// only its input and runs its forward again before its backward. The same ops on the same values, so the loss and
/// every gradient are bit-identical to a run that keeps every layer's activations, in every family, for full
/// fine-tuning and for LoRA with dropout (whose masks must replay); several steps and a resumed run too. And what
/// the forward leaves for the backward shrinks to the layers' inputs.
/// </summary>
public sealed class RecomputeActivationsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-recompute-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Models() => new(["tiny-bamba", .. Fixtures.FamilyModelNames]);

    internal static ParameterSet Load(string name)
    {
        string dir = Fixtures.Model(name);
        using var store = WeightStore.Open(dir);
        return ParameterSet.FromStore(BambaConfigReader.Load(dir), store);
    }

    /// <summary>Two packed sequences of random ids.</summary>
    internal static TrainingBatch Batch(int vocab)
    {
        var rng = new SplitMix64(21);
        return new TrainingBatch(new[] { 23, 14 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.NextInt(vocab)).ToArray()).ToList());
    }

    /// <summary>Adapters on every target with B random (so every gradient is non-zero) and dropout, whose masks the recomputation must replay.</summary>
    internal static LoraSet Adapters(ParameterSet model)
    {
        var lora = new LoraSet(model, new LoraSettings(3, 6f, 0.2f, LoraSettings.AllTargets));
        lora.Initialize(seed: 5);
        var rng = new SplitMix64(13);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.05);
        return lora;
    }

    private static void AssertSameGradients(IReadOnlyList<Parameter> expected, IReadOnlyList<Parameter> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.True(expected[i].Grad.AsSpan().SequenceEqual(actual[i].Grad), $"{expected[i].Name}: gradients differ");
        }
    }

    [Theory, MemberData(nameof(Models))]
    public void FullFineTuningGradientsAreBitIdentical(string name)
    {
        var (kept, recomputed) = (Load(name), Load(name));
        var batch = Batch(kept.Config.VocabSize);
        double expected = new TrainableModel(kept).LossAndGradients(batch);
        double actual = new TrainableModel(recomputed, recomputeActivations: true).LossAndGradients(batch);
        Assert.Equal(expected, actual);
        Assert.Contains(kept.All, p => p.Grad.Any(g => g != 0));
        AssertSameGradients(kept.All, recomputed.All);
    }

    [Theory, MemberData(nameof(Models))]
    public void LoraGradientsWithDropoutAreBitIdenticalOverSteps(string name)
    {
        var (keptModel, recomputedModel) = (Load(name), Load(name));
        var (kept, recomputed) = (Adapters(keptModel), Adapters(recomputedModel));
        var batch = Batch(keptModel.Config.VocabSize);
        var engines = new[] { new TrainableModel(keptModel, kept), new TrainableModel(recomputedModel, recomputed, recomputeActivations: true) }
            .Select(m => new CpuTrainingEngine(m, new AdamW(m.Lora!.Parameters, new AdamWOptions()))).ToArray();
        // Three steps: each draws new dropout masks (the forward's number keys them), and the adapters move between steps.
        for (int step = 0; step < 3; step++)
        {
            var losses = engines.Select(e =>
            {
                e.ZeroGrad();
                var sums = e.ForwardBackward(batch, 1f / batch.TargetCount, 0f);
                e.Update(1e-2f);
                return sums.CrossEntropy;
            }).ToArray();
            Assert.Equal(losses[0], losses[1]);
            AssertSameGradients(kept.Parameters, recomputed.Parameters);
            Assert.All(kept.Parameters, p => Assert.Contains(p.Grad, g => g != 0));
        }
    }

    /// <summary>
    /// The router auxiliary loss adds its gradient to every MoE layer's logits gradient after the whole forward and
    /// before the first backward: the recomputing layers keep their routing for it, and the gradients stay identical.
    /// </summary>
    [Fact]
    public void RouterAuxLossGradientsAreBitIdentical()
    {
        var (kept, recomputed) = (Load("tiny-granite-moe-hybrid"), Load("tiny-granite-moe-hybrid"));
        var batch = Batch(kept.Config.VocabSize);
        LossSums Run(ParameterSet set, bool recompute) =>
            new TrainableModel(set, recomputeActivations: recompute).ForwardBackward(batch, 1f / batch.TargetCount, 0f, auxScale: 0.5f);
        var (expected, actual) = (Run(kept, false), Run(recomputed, true));
        Assert.True(expected.RouterAux > 0, "the auxiliary loss is on");
        Assert.Equal(expected, actual);
        AssertSameGradients(kept.All, recomputed.All);
        var without = Load("tiny-granite-moe-hybrid");
        new TrainableModel(without).ForwardBackward(batch, 1f / batch.TargetCount, 0f);
        Assert.Contains(without.All, p => !p.Grad.AsSpan().SequenceEqual(kept[p.Name].Grad)); // the aux gradient reached the routers
    }

    private string[] Train(string model, string output, int steps, params string[] extra) =>
        ["train", "--model", Fixtures.Model(model), "--data", Data(), "--out", output, "--steps", steps.ToString(), "--batch-tokens", "48",
         "--grad-accum", "2", "--lr", "1e-3", "--warmup", "1", "--seed", "3", "--eval-fraction", "0", .. extra];

    private string Data() => TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 16, vocab: 512, seed: 8);

    private static void AssertSameFiles(string expected, string actual, params string[] files)
    {
        foreach (var file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(expected, file)).SequenceEqual(File.ReadAllBytes(Path.Combine(actual, file))), $"{file} differs");
    }

    /// <summary>
    /// Through the CLI on the MoE fixture (routing re-derived in every recomputation): 3 steps keeping activations,
    /// 3 recomputing, and 2 keeping then resumed to 3 recomputing (the flag is memory, not math, so a resume may
    /// change it) write the same weights and moments.
    /// </summary>
    [Fact]
    public void RecomputingRunsAndAResumeThatSwitchesModeEqualAKeptRun()
    {
        string kept = Path.Combine(_dir, "kept"), recomputed = Path.Combine(_dir, "recomputed"), resumed = Path.Combine(_dir, "resumed");
        foreach (var run in new[] { Train("tiny-granite-moe-hybrid", kept, 3), Train("tiny-granite-moe-hybrid", recomputed, 3, "--recompute-activations"),
                     Train("tiny-granite-moe-hybrid", resumed, 2) })
        {
            var r = CliRunner.Run(run);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        var again = CliRunner.Run("train", "--data", Data(), "--out", resumed, "--resume", "--steps", "3", "--recompute-activations");
        Assert.True(again.ExitCode == 0, again.Stderr);
        AssertSameFiles(kept, recomputed, "model.safetensors", Checkpoint.OptimizerFile);
        AssertSameFiles(kept, resumed, "model.safetensors", Checkpoint.OptimizerFile);
    }

    /// <summary>A LoRA run with dropout through the CLI: the adapter it writes is the same bytes with recomputation.</summary>
    [Fact]
    public void RecomputingLoraRunWritesTheSameAdapter()
    {
        string kept = Path.Combine(_dir, "kept"), recomputed = Path.Combine(_dir, "recomputed");
        string[] lora = ["--lora-rank", "4", "--lora-dropout", "0.1"];
        foreach (var run in new[] { Train("tiny-bamba", kept, 2, lora), Train("tiny-bamba", recomputed, 2, [.. lora, "--recompute-activations"]) })
        {
            var r = CliRunner.Run(run);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        AssertSameFiles(kept, recomputed, LoraFiles.WeightsFile, Checkpoint.OptimizerFile);
    }

    /// <summary>
    /// The bytes of the arrays reachable from what the layers' forwards leave for the backward (the tapes, LoRA paths'
    /// activations included, or the kept inputs): what is alive at the start of the backward besides the model's own
    /// final norm and logits, which are the same either way.
    /// </summary>
    private static long SavedBytes(ParameterSet set, LoraSet? lora, bool recompute, TrainingBatch batch)
    {
        var c = set.Config;
        if (lora is not null) lora.Training = true;
        var rope = new Rope(c.RopeTheta, c.RotaryDim, c.Dtype == "bfloat16");
        var x = Enumerable.Range(0, batch.Rows * c.HiddenSize).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        var saved = Enumerable.Range(0, c.NumHiddenLayers)
            .Select(i => CpuLayerOps.Layer(c, set, i, rope, lora, recompute).Forward(batch, batch.Rows, x)).ToArray();
        return ReachableArrayBytes(saved);
    }

    /// <summary>Walks fields and arrays from <paramref name="root"/>, counting each primitive array once.</summary>
    private static long ReachableArrayBytes(object root)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>([root]);
        long bytes = 0;
        while (pending.TryPop(out var o))
        {
            if (o is string || !seen.Add(o)) continue;
            if (o is Array array)
            {
                if (array.GetType().GetElementType()!.IsPrimitive) bytes += Buffer.ByteLength(array);
                else foreach (var item in array) if (item is not null) pending.Push(item);
                continue;
            }
            foreach (var field in o.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                if (!field.FieldType.IsPrimitive && field.GetValue(o) is { } value) pending.Push(value);
        }
        return bytes;
    }

    [Theory, MemberData(nameof(Models))]
    public void RecomputingKeepsOnlyEachLayersInputAndRouting(string name)
    {
        foreach (bool withLora in new[] { false, true })
        {
            var model = Load(name);
            var lora = withLora ? Adapters(model) : null;
            var c = model.Config;
            var batch = Batch(c.VocabSize);
            long kept = SavedBytes(model, lora, recompute: false, batch), recomputed = SavedBytes(model, lora, recompute: true, batch);
            output.WriteLine($"{name} (LoRA: {withLora}): kept tapes {kept:N0} bytes, recomputing {recomputed:N0}");
            // Besides the inputs, each MoE layer keeps its routing for the router auxiliary loss: logits and their
            // gradient [rows, experts], the picks and their weights [rows, k].
            int moeLayers = c.Layers.Count(l => l.FeedForward == FeedForwardKind.MixtureOfExperts);
            long routing = (long)moeLayers * batch.Rows * (2 * c.NumExperts + 2 * c.NumExpertsPerToken) * sizeof(float);
            Assert.Equal((long)c.NumHiddenLayers * batch.Rows * c.HiddenSize * sizeof(float) + routing, recomputed);
            // A kept tape holds at least the layer's input, its normed copy and the mixer's first product (in_proj's or q's).
            Assert.True(kept >= 3 * recomputed, $"{name} (LoRA: {withLora}): kept {kept} bytes, recomputing {recomputed}");
        }
    }
}

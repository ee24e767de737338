using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Tests.Cli;
using Bamba.Tests.Modeling;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;

namespace Bamba.Tests.Training;

/// <summary>
/// LoRA on the CPU trainer, for every family: zero-B adapters leave the model exactly as it was; the adapters'
/// gradients are the full model's weight gradient projected onto them (dA = s·Bᵀ·dW, dB = s·dW·Aᵀ, s = α/r) and match
/// finite differences; the base gets no gradient; PEFT's files round-trip; a resumed run equals an uninterrupted one.
/// </summary>
public sealed class LoraTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Models() => new(["tiny-bamba", .. Fixtures.FamilyModelNames]);

    private static ParameterSet Load(string name)
    {
        string dir = Fixtures.Model(name);
        var config = BambaConfigReader.Load(dir);
        using var store = WeightStore.Open(dir);
        return ParameterSet.FromStore(config, store);
    }

    private static TrainingBatch Batch(int vocab)
    {
        var rng = new SplitMix64(11);
        return new TrainingBatch(new[] { 19, 12 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.NextInt(vocab)).ToArray()).ToList());
    }

    /// <summary>Adapters on every target with A as PEFT initialises it and B random (a zero B has zero dA).</summary>
    private static LoraSet Adapters(ParameterSet model, int rank = 3, float alpha = 5f, float dropout = 0f)
    {
        var lora = new LoraSet(model, new LoraSettings(rank, alpha, dropout, LoraSettings.AllTargets));
        lora.Initialize(seed: 4);
        var rng = new SplitMix64(9);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.05);
        return lora;
    }

    [Theory, MemberData(nameof(Models))]
    public void ZeroBAdaptersEqualTheBaseExactly(string name)
    {
        var baseModel = Load(name);
        var batch = Batch(baseModel.Config.VocabSize);
        var expected = new TrainableModel(baseModel).Evaluate(batch);
        var adapted = Load(name);
        var lora = new LoraSet(adapted, new LoraSettings(4, 8f, 0f, LoraSettings.AllTargets));
        lora.Initialize(seed: 1);
        Assert.Contains(lora.Adapters, a => a.A.Value.Any(v => v != 0));
        var actual = new TrainableModel(adapted, lora).Evaluate(batch);
        Assert.Equal(expected.CrossEntropy, actual.CrossEntropy); // bit for bit
        Assert.Equal(expected.ZSquared, actual.ZSquared);
    }

    [Theory, MemberData(nameof(Models))]
    public void AdapterGradientsAreTheFullGradientProjected(string name)
    {
        var adapted = Load(name);
        var lora = Adapters(adapted);
        var batch = Batch(adapted.Config.VocabSize);
        new TrainableModel(adapted, lora).LossAndGradients(batch);
        foreach (var p in lora.Adapters.Select(a => a.Base).Append(adapted.Head))
            Assert.True(p.Frozen && p.Grad.All(g => g == 0), $"the frozen {p.Name} got a gradient");

        // The same adapters merged into a trainable copy: its weight gradient dW is the gradient of W + s·B·A.
        var merged = Load(name);
        var copy = new LoraSet(merged, lora.Settings);
        for (int i = 0; i < copy.Parameters.Count; i++) lora.Parameters[i].Value.CopyTo(copy.Parameters[i].Value, 0);
        copy.MergeInto();
        foreach (var p in merged.All) p.Frozen = false;
        new TrainableModel(merged).LossAndGradients(batch);

        float s = lora.Settings.Scale;
        for (int i = 0; i < lora.Adapters.Count; i++)
        {
            var a = lora.Adapters[i];
            var dW = merged[a.Base.Name].Grad;
            int rows = a.Base.Rows, cols = a.Base.Columns, r = a.Rank;
            // dA [r, cols] = s·Bᵀ·dW: rows of Bᵀ [r, rows] against columns of dW, i.e. Forward(Bᵀ, r, dWᵀ, cols, rows).
            var expectedA = new float[r * cols];
            DenseMatrix.Forward(DenseMatrix.Transpose(a.B.Value, rows, r), r, DenseMatrix.Transpose(dW, rows, cols), cols, rows, [], expectedA);
            // dB [rows, r] = s·dW·Aᵀ: Forward(dW, rows, A, r, cols).
            var expectedB = new float[rows * r];
            DenseMatrix.Forward(dW, rows, a.A.Value, r, cols, [], expectedB);
            for (int j = 0; j < expectedA.Length; j++) expectedA[j] *= s;
            for (int j = 0; j < expectedB.Length; j++) expectedB[j] *= s;
            AssertRelative(expectedA, a.A.Grad, 1e-4, $"{a.Module} dA");
            AssertRelative(expectedB, a.B.Grad, 1e-4, $"{a.Module} dB");
        }
    }

    /// <summary>max |diff| ≤ tol · max |expected| (the gradients are small: relative to their own scale, not to 1).</summary>
    private static void AssertRelative(float[] expected, float[] actual, double tol, string what)
    {
        double scale = expected.Max(v => Math.Abs(v));
        Assert.True(scale > 0, $"{what}: the expected gradient is zero");
        double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(diff <= tol * scale, $"{what}: max |diff| {diff:E3} against max |expected| {scale:E3}");
    }

    [Theory, MemberData(nameof(Models))]
    public void AdapterGradientsMatchFiniteDifferences(string name)
    {
        var model = Load(name);
        var lora = Adapters(model, dropout: 0f);
        var trainable = new TrainableModel(model, lora);
        var batch = Batch(model.Config.VocabSize);
        trainable.LossAndGradients(batch);
        foreach (var p in lora.Parameters)
        {
            double norm = Math.Sqrt(p.Grad.Sum(g => (double)g * g));
            Assert.True(norm > 0, $"{p.Name}: zero gradient");
            var direction = p.Grad.Select(g => (float)(g / norm)).ToArray();
            var saved = (float[])p.Value.Clone();
            const float h = 2e-3f;
            double Shifted(float sign)
            {
                for (int i = 0; i < p.Length; i++) p.Value[i] = saved[i] + sign * h * direction[i];
                return trainable.Evaluate(batch).Loss(model.Config.ZLossCoefficient);
            }
            double numeric = (Shifted(+1) - Shifted(-1)) / (2 * h);
            saved.CopyTo(p.Value, 0);
            Assert.True(Math.Abs(numeric - norm) <= 2e-3 + 0.02 * norm, $"{p.Name}: |grad| {norm:E4}, finite difference {numeric:E4}");
        }
    }

    [Fact]
    public void DropoutMasksTheAdaptersInputOnlyWhileTraining()
    {
        var model = Load("tiny-bamba");
        var batch = Batch(model.Config.VocabSize);
        var plain = Adapters(model, dropout: 0f);
        var dropBase = Load("tiny-bamba");
        var dropped = new LoraSet(dropBase, plain.Settings with { Dropout = 0.5f });
        for (int i = 0; i < plain.Parameters.Count; i++) plain.Parameters[i].Value.CopyTo(dropped.Parameters[i].Value, 0);
        var dropModel = new TrainableModel(dropBase, dropped);
        // Evaluation draws no masks: equal to the dropout-free adapters.
        Assert.Equal(new TrainableModel(model, plain).Evaluate(batch).CrossEntropy, dropModel.Evaluate(batch).CrossEntropy);
        double first = dropModel.LossAndGradients(batch), second = dropModel.LossAndGradients(batch);
        Assert.NotEqual(first, second); // each training forward draws new masks
    }

    [Fact]
    public void PeftFilesRoundTripWithPeftsNames()
    {
        var model = Load("tiny-granite-moe-hybrid");
        var lora = Adapters(model);
        LoraFiles.Save(_dir, lora, "/models/base");
        using (var file = SafetensorsFile.Open(Path.Combine(_dir, LoraFiles.WeightsFile)))
        {
            Assert.Contains("base_model.model.model.layers.0.shared_mlp.input_linear.lora_A.weight", file.Tensors.Keys);
            Assert.Contains("base_model.model.model.layers.0.shared_mlp.output_linear.lora_B.weight", file.Tensors.Keys);
            Assert.DoesNotContain(file.Tensors.Keys, k => k.Contains("block_sparse_moe", StringComparison.Ordinal)); // experts are not targeted
            Assert.All(file.Tensors.Values, t => Assert.Equal(DType.F32, t.DType));
        }
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, LoraFiles.ConfigFile)))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal(3, config["r"]!.GetValue<int>());
        Assert.Equal(5.0, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal("/models/base", LoraFiles.BaseModel(_dir));

        var loaded = LoraFiles.Load(_dir, Load("tiny-granite-moe-hybrid"));
        Assert.Equal(lora.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
        for (int i = 0; i < lora.Parameters.Count; i++) Assert.Equal(lora.Parameters[i].Value, loaded.Parameters[i].Value);
        Assert.Equal(lora.Settings.Scale, loaded.Settings.Scale);
    }

    [Theory, MemberData(nameof(Models))]
    public void MergedLogitsEqualTheUnmergedAdapters(string name)
    {
        var model = Load(name);
        var lora = Adapters(model);
        string adapter = Path.Combine(_dir, "adapter"), merged = Path.Combine(_dir, "merged");
        LoraFiles.Save(adapter, lora, Fixtures.Model(name));
        var r = CliRunner.Run("merge-lora", "--model", Fixtures.Model(name), "--lora", adapter, "--out", merged);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var batch = Batch(model.Config.VocabSize);
        var unmerged = new TrainableModel(model, lora).Logits(batch);
        using var store = WeightStore.Open(merged);
        var mergedModel = ParameterSet.FromStore(BambaConfigReader.Load(merged), store);
        var logits = new TrainableModel(mergedModel).Logits(batch);
        Tolerance.AssertClose(unmerged, logits, 1e-5, $"{name}: merged against unmerged logits");
        Assert.True(unmerged.Zip(new TrainableModel(Load(name)).Logits(batch)).Any(p => p.First != p.Second), "the adapters change nothing");

        // The inference model with --lora (unmerged deltas) against the merged checkpoint.
        var ids = batch.Tokens[..batch.Length(0)];
        using var withAdapter = BambaModel.Load(Fixtures.Model(name), LoraFiles.ReadDeltas(adapter, model.Config));
        using var mergedInference = BambaModel.Load(merged);
        var options = new ForwardOptions { AllLogits = true };
        Tolerance.AssertClose(mergedInference.Forward([mergedInference.CreateState()], [ids], options).Logits.ToArray(),
            withAdapter.Forward([withAdapter.CreateState()], [ids], options).Logits.ToArray(), 1e-5, $"{name}: --lora against merged (inference)");
    }

    [Fact]
    public void ScoreWithLoraRunsUnmergedOnTheCpu()
    {
        string adapter = Path.Combine(_dir, "adapter");
        LoraFiles.Save(adapter, Adapters(Load("tiny-bamba")), null);
        string[] score = ["score", "--model", Fixtures.Model("tiny-bamba"), "--ids", "5,9,13,2,7", "--format", "json"];
        var plain = CliRunner.Run(score);
        var adapted = CliRunner.Run([.. score, "--lora", adapter]);
        Assert.True(adapted.ExitCode == 0, adapted.Stderr);
        Assert.NotEqual(plain.Stdout, adapted.Stdout);
    }

    [Fact]
    public void MergeRefusesAnAdapterOfAnotherModelInOneLine()
    {
        string adapter = Path.Combine(_dir, "granite-adapter");
        LoraFiles.Save(adapter, Adapters(Load("tiny-granite-moe-hybrid")), null);
        var r = CliRunner.Run("merge-lora", "--model", Fixtures.Model("tiny-bamba"), "--lora", adapter, "--out", Path.Combine(_dir, "m"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("adapter_model.safetensors: the base model has no module 'model.layers.", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_dir, "m")));
    }

    [Fact]
    public void ResumeOfALoraRunEqualsAnUninterruptedOne()
    {
        string data = TrainingData.WriteIdDocuments(Path.Combine(_dir, "ids.jsonl"), documents: 24, vocab: 512, seed: 5);
        string[] Args(string output, int steps) =>
            ["train", "--model", Fixtures.Model("tiny-granite-hybrid-dense-rope"), "--data", data, "--out", output, "--steps", steps.ToString(),
             "--batch-tokens", "48", "--grad-accum", "2", "--lr", "1e-2", "--warmup", "1", "--seed", "7", "--eval-fraction", "0.2",
             "--lora-rank", "4", "--lora-alpha", "8", "--lora-dropout", "0.1"];
        string whole = Path.Combine(_dir, "whole"), split = Path.Combine(_dir, "split");
        var r = CliRunner.Run(Args(whole, 4));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(0, CliRunner.Run(Args(split, 2)).ExitCode);
        var resumed = CliRunner.Run("train", "--data", data, "--out", split, "--resume", "--steps", "4");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);

        foreach (var file in new[] { LoraFiles.WeightsFile, Checkpoint.OptimizerFile })
            Assert.True(File.ReadAllBytes(Path.Combine(whole, file)).SequenceEqual(File.ReadAllBytes(Path.Combine(split, file))), $"{file} differs");
        Assert.False(File.Exists(Path.Combine(whole, "model.safetensors"))); // the base is not copied
        var trained = LoraFiles.Load(whole, Load("tiny-granite-hybrid-dense-rope"));
        Assert.Contains(trained.Adapters, a => a.B.Value.Any(v => v != 0)); // the adapters did train
    }
}

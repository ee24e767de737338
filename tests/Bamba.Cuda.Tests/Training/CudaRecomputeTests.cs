using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Training;
using Bamba.Training;
using Bamba.Training.Lora;

namespace Bamba.Cuda.Tests.Training;

/// <summary>
/// Activation recomputation on the GPU (<c>bamba train --device cuda --recompute-activations</c>): the tapes share one
/// layer's buffers and each layer runs its forward again before its backward, through the same layer skeleton as the
/// CPU. The same kernels in the same order, so the loss and every gradient equal a run that keeps every layer's
/// buffers bit for bit, in every family, full and LoRA, over several steps (Granite's experts with the router
/// auxiliary loss on, whose gradient reaches the recomputed tapes through the kept routing); and the work buffers
/// take fewer bytes.
/// </summary>
public sealed class CudaRecomputeTests(ITestOutputHelper output)
{
    private static CudaTrainingEngine Engine(ParameterSet model, LoraSet? lora, CudaPrecision precision, bool recompute) =>
        new(Gpu.Device, model, new AdamW(lora?.Parameters ?? model.All, new AdamWOptions()), precision, lora, recompute);

    /// <summary>Rank-4 adapters on every target the GPU takes (all but Granite's fused gate|up), B random so every gradient is non-zero.</summary>
    private static LoraSet Adapters(ParameterSet model)
    {
        bool fused = model.Find(Bamba.Architectures.TensorRole.MlpGateUp, 0) is not null;
        var lora = new LoraSet(model, new LoraSettings(4, 8f, 0f, LoraSettings.AllTargets.Where(t => !(fused && t == "gate_up")).ToList()));
        lora.Initialize(seed: 4);
        var rng = new SplitMix64(9);
        foreach (var a in lora.Adapters)
            for (int i = 0; i < a.B.Length; i++) a.B.Value[i] = (float)(rng.NextNormal() * 0.05);
        return lora;
    }

    public static TheoryData<string, bool, CudaPrecision> Cases()
    {
        var cases = new TheoryData<string, bool, CudaPrecision>();
        foreach (var model in new[] { "tiny-bamba", "tiny-granite-moe-hybrid", "tiny-granite-hybrid-dense-rope", "tiny-nemotron-h" })
            foreach (bool lora in new[] { false, true })
                foreach (var precision in new[] { CudaPrecision.Float32, CudaPrecision.BFloat16 })
                    cases.Add(model, lora, precision);
        return cases;
    }

    [Theory, MemberData(nameof(Cases))]
    public void RecomputingGivesBitIdenticalStepsInFewerBytes(string modelName, bool withLora, CudaPrecision precision)
    {
        Gpu.Require();
        var batch = CudaTrainingTests.Batch(CudaGradientTests.LoadParameters(modelName).Config.VocabSize, seed: 3);
        // A step on a throwaway engine first: cuBLASLt picks each GEMM shape's algorithm on its first call in this
        // process, and two algorithms may sum in different orders; after it, both runs use the same ones.
        var (warmModel, warmLora) = Setup(modelName, withLora);
        float auxScale = modelName == "tiny-granite-moe-hybrid" ? 0.5f : 0f;
        using (var warm = Engine(warmModel, warmLora, precision, recompute: false)) Step(warm, batch, auxScale);

        var (keptModel, keptLora) = Setup(modelName, withLora);
        var (recomputedModel, recomputedLora) = Setup(modelName, withLora);
        using var kept = Engine(keptModel, keptLora, precision, recompute: false);
        using var recomputed = Engine(recomputedModel, recomputedLora, precision, recompute: true);
        Assert.True(recomputed.RecomputeActivations);
        var trained = (IReadOnlyList<Parameter>)(keptLora?.Parameters ?? keptModel.All);
        var trainedAgain = (IReadOnlyList<Parameter>)(recomputedLora?.Parameters ?? recomputedModel.All);
        for (int step = 0; step < 3; step++)
        {
            LossSums[] sums = [.. new[] { kept, recomputed }.Select(e => Step(e, batch, auxScale))];
            Assert.Equal(sums[0], sums[1]);
            Assert.Equal(auxScale != 0, sums[0].RouterAux > 0);
            kept.SyncToHost();
            recomputed.SyncToHost();
            for (int i = 0; i < trained.Count; i++)
            {
                Assert.True(trained[i].Grad.AsSpan().SequenceEqual(trainedAgain[i].Grad), $"step {step}: {trained[i].Name} gradients differ");
                Assert.True(trained[i].Value.AsSpan().SequenceEqual(trainedAgain[i].Value), $"step {step}: {trained[i].Name} values differ");
            }
        }
        output.WriteLine($"{modelName} (LoRA: {withLora}, {precision}): work buffers {kept.WorkBytes:N0} bytes keeping, {recomputed.WorkBytes:N0} recomputing");
        Assert.True(recomputed.WorkBytes < kept.WorkBytes, $"recomputing takes {recomputed.WorkBytes} bytes, keeping {kept.WorkBytes}");
    }

    /// <summary>One optimizer step as the Trainer takes it (z-loss as configured, clipping at 1); returns its loss sums.</summary>
    private static LossSums Step(ITrainingEngine engine, TrainingBatch batch, float auxScale)
    {
        engine.ZeroGrad();
        var sums = engine.ForwardBackward(batch, 1f / batch.TargetCount, (float)engine.Config.ZLossCoefficient / batch.Rows, auxScale);
        engine.ClipGradients(1.0);
        engine.Update(1e-3f);
        return sums;
    }

    private static (ParameterSet Model, LoraSet? Lora) Setup(string modelName, bool withLora)
    {
        var model = CudaGradientTests.LoadParameters(modelName);
        return (model, withLora ? Adapters(model) : null);
    }
}

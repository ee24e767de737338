using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Training;
using Bamba.Configuration;
using Bamba.Training;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Training;

/// <summary>
/// The whole model's CUDA backward (fp32 mode) against transformers' gradients and the CPU trainer, for every family:
/// Granite's multipliers, NoPE and routed experts (softmax router), Nemotron-H's squared-ReLU MLP, per-group gated
/// norm and sigmoid-scored grouped routing.
/// </summary>
public class CudaGradientTests(ITestOutputHelper output)
{
    public static TheoryData<string> ModelsWithGradients() => new(["tiny-bamba", "tiny-bamba-bf16-sharded", .. Fixtures.FamilyModelNames]);

    internal static ParameterSet LoadParameters(string modelName, Func<BambaConfig, BambaConfig>? edit = null)
    {
        string dir = Fixtures.Model(modelName);
        var config = BambaConfigReader.Load(dir);
        using var store = WeightStore.Open(dir);
        return ParameterSet.FromStore(edit is null ? config : edit(config), store);
    }

    internal static CudaTrainingEngine Engine(ParameterSet parameters, CudaPrecision precision = CudaPrecision.Float32)
    {
        Gpu.Require();
        return new CudaTrainingEngine(Gpu.Device, parameters, new AdamW(parameters, new AdamWOptions()), precision);
    }

    /// <summary>The transformers objective of one batch (as TrainableModel.LossAndGradients), on an engine.</summary>
    private static double LossAndGradients(ITrainingEngine engine, TrainingBatch batch)
    {
        float zCoef = (float)engine.Config.ZLossCoefficient;
        var sums = engine.ForwardBackward(batch, 1f / Math.Max(1, batch.TargetCount), zCoef / batch.Rows);
        engine.SyncToHost();
        return sums.Loss(engine.Config.ZLossCoefficient);
    }

    [Theory]
    [MemberData(nameof(ModelsWithGradients))]
    public void LossAndEveryGradientMatchTransformers(string modelName)
    {
        using var engine = Engine(LoadParameters(modelName));
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];

        double loss = LossAndGradients(engine, new TrainingBatch([ids]));

        double expectedLoss = reference.Json.GetProperty("loss_single").GetDouble();
        output.WriteLine($"{modelName}: loss {loss:R} vs transformers {expectedLoss:R} (relative {Math.Abs(loss - expectedLoss) / Math.Abs(expectedLoss):E2})");
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-5 * Math.Abs(expectedLoss), $"loss {loss} vs transformers {expectedLoss}");
        double worst = 0;
        string worstName = "";
        foreach (var p in engine.Parameters.All.Where(p => p.Trainable))
        {
            var expected = reference.Gradient(p.Name);
            double scale = Math.Max(1, expected.Max(MathF.Abs));
            double error = expected.Select((e, i) => Math.Abs(e - p.Grad[i])).Max() / scale;
            if (error > worst) (worst, worstName) = (error, p.Name);
            Tolerance.AssertClose(expected, p.Grad, 1e-4, $"{modelName} grad.{p.Name}");
        }
        output.WriteLine($"{modelName}: {engine.Parameters.All.Count} gradients, worst max|cuda − ref|/max(1, max|ref|) = {worst:E2} ({worstName})");
    }

    /// <summary>
    /// Padding-free packing: several sequences in one row (ignored labels, z-loss on) give the CPU trainer's loss and
    /// gradients; small-bamba's sequences run over several SSD chunks.
    /// </summary>
    [Theory]
    [InlineData("tiny-bamba", new[] { 9, 1, 40, 17 })]
    [InlineData("small-bamba", new[] { 130, 70, 3 })]
    [InlineData("tiny-granite-moe-hybrid", new[] { 9, 1, 40, 17 })]
    [InlineData("tiny-granite-hybrid-dense-rope", new[] { 9, 1, 40, 17 })]
    [InlineData("tiny-nemotron-h", new[] { 9, 1, 40, 17 })]
    public void PackedRowsGiveTheCpuTrainersLossAndGradients(string modelName, int[] lengths)
    {
        Func<BambaConfig, BambaConfig> zLoss = c => c with { ZLossCoefficient = 1e-3 };
        var cpu = new TrainableModel(LoadParameters(modelName, zLoss));
        using var engine = Engine(LoadParameters(modelName, zLoss));
        var rng = new Random(5);
        var sequences = lengths.Select(l => Enumerable.Range(0, l).Select(_ => rng.Next(engine.Config.VocabSize)).ToArray()).ToList();
        var labels = sequences.Select(s => s.Select((t, i) => i % 7 == 3 ? TrainingBatch.IgnoreIndex : t).ToArray()).ToList();
        var batch = new TrainingBatch(sequences, labels);

        double cpuLoss = cpu.LossAndGradients(batch);
        double gpuLoss = LossAndGradients(engine, batch);

        output.WriteLine($"{modelName}: loss cpu {cpuLoss:R}, cuda {gpuLoss:R}");
        Assert.True(Math.Abs(cpuLoss - gpuLoss) <= 1e-5 * Math.Abs(cpuLoss), $"loss cuda {gpuLoss} vs cpu {cpuLoss}");
        foreach (var p in engine.Parameters.All)
            Tolerance.AssertClose(cpu.Parameters[p.Name].Grad, p.Grad, 1e-4, $"{modelName} packed grad.{p.Name}");
    }
}

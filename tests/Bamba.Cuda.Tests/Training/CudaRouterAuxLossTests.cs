using Bamba.Training;

namespace Bamba.Cuda.Tests.Training;

/// <summary>
/// The router auxiliary loss through the CUDA MoE sublayer (fp32 mode): on together with the cross-entropy and
/// z-loss, a packed row gives the CPU trainer's loss, aux loss and every gradient (the CPU's are checked against
/// transformers' formula and finite differences in RouterAuxLossTests).
/// </summary>
public class CudaRouterAuxLossTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2)] // the fixture's own top-k
    [InlineData(1)]
    [InlineData(3)]
    public void AuxLossAndItsGradientsEqualTheCpuTrainers(int topK)
    {
        const string model = "tiny-granite-moe-hybrid";
        Func<Configuration.BambaConfig, Configuration.BambaConfig> edit = c => c with { NumExpertsPerToken = topK, ZLossCoefficient = 1e-3 };
        using var engine = CudaGradientTests.Engine(CudaGradientTests.LoadParameters(model, edit));
        var cpu = new TrainableModel(CudaGradientTests.LoadParameters(model, edit));
        var rng = new Random(5);
        var sequences = new[] { 9, 1, 40, 17 }.Select(l => Enumerable.Range(0, l).Select(_ => rng.Next(engine.Config.VocabSize)).ToArray()).ToList();
        var labels = sequences.Select(s => s.Select((t, i) => i % 7 == 3 ? TrainingBatch.IgnoreIndex : t).ToArray()).ToList();
        var batch = new TrainingBatch(sequences, labels);
        float ceScale = 1f / batch.TargetCount, zScale = 1e-3f / batch.Rows, auxScale = 0.5f;

        var cpuSums = cpu.ForwardBackward(batch, ceScale, zScale, auxScale);
        var gpuSums = engine.ForwardBackward(batch, ceScale, zScale, auxScale);
        engine.SyncToHost();

        double cpuAux = cpuSums.AuxLoss!.Value, gpuAux = gpuSums.AuxLoss!.Value;
        output.WriteLine($"top-{topK}: aux cpu {cpuAux:R}, cuda {gpuAux:R}; loss cpu {cpuSums.Loss(1e-3):R}, cuda {gpuSums.Loss(1e-3):R}");
        Assert.True(Math.Abs(cpuAux - gpuAux) <= 1e-5 * cpuAux, $"aux loss cuda {gpuAux} vs cpu {cpuAux}");
        Assert.True(Math.Abs(cpuSums.Loss(1e-3) - gpuSums.Loss(1e-3)) <= 1e-5 * cpuSums.Loss(1e-3), "loss cuda vs cpu");
        foreach (var p in engine.Parameters.All)
            Tolerance.AssertClose(cpu.Parameters[p.Name].Grad, p.Grad, 1e-4, $"{model} top-{topK} aux grad.{p.Name}");
    }
}

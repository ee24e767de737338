using System.Diagnostics;
using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Training;
using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Cuda.Tests.Training;

/// <summary>The optimizer on the GPU and whole training steps: fp32 parity with the CPU, and the bf16 mixed-precision mode.</summary>
public class CudaTrainingTests(ITestOutputHelper output)
{
    /// <summary>Three AdamW steps with clipping on the same gradients: master weights and moments equal the CPU AdamW's.</summary>
    [Fact]
    public void AdamWStepsEqualTheCpuOptimizer()
    {
        var cpuSet = CudaGradientTests.LoadParameters("tiny-bamba");
        var options = new AdamWOptions(WeightDecay: 0.1f);
        var cpu = new AdamW(cpuSet, options);
        var gpuSet = CudaGradientTests.LoadParameters("tiny-bamba");
        Gpu.Require();
        var ops = new CudaTrainOps(Gpu.Ops());
        using var parameters = new CudaParameters(ops, gpuSet, CudaPrecision.Float32);
        using var gpu = new CudaAdamW(ops, parameters, new AdamW(gpuSet, options));
        var rng = new Random(9);
        for (int step = 0; step < 3; step++)
        {
            foreach (var p in cpuSet.All)
            {
                for (int i = 0; i < p.Length; i++) p.Grad[i] = (float)(rng.NextDouble() * 2 - 1) * 0.01f;
                ops.Device.Copy<float>(parameters.Grad(p.Name), p.Grad);
            }
            double cpuNorm = GradientClipping.ClipGlobalNorm(cpuSet, 1.0);
            double gpuNorm = gpu.ClipGlobalNorm(1.0);
            Assert.True(Math.Abs(cpuNorm - gpuNorm) <= 1e-5 * cpuNorm, $"gradient norm cuda {gpuNorm} vs cpu {cpuNorm}");
            cpu.Update(1e-2f);
            gpu.Update(1e-2f);
        }
        parameters.Download();
        gpu.Download();
        Assert.Equal(cpu.Step, gpu.Host.Step);
        foreach (var p in cpuSet.All)
        {
            Tolerance.AssertClose(p.Value, gpuSet[p.Name].Value, 1e-5, $"master {p.Name}");
            Tolerance.AssertClose(cpu.First[p.Name], gpu.Host.First[p.Name], 1e-5, $"exp_avg {p.Name}");
            Tolerance.AssertClose(cpu.Second[p.Name], gpu.Host.Second[p.Name], 1e-5, $"exp_avg_sq {p.Name}");
        }
    }

    /// <summary>Whole steps (forward, backward, clipping, AdamW) on the CPU and the GPU in fp32 give the same losses, in every family.</summary>
    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h")]
    public void TrainingStepsInFp32FollowTheCpu(string modelName)
    {
        var cpuSet = CudaGradientTests.LoadParameters(modelName);
        using var cpu = new CpuTrainingEngine(new TrainableModel(cpuSet), new AdamW(cpuSet, new AdamWOptions()));
        using var gpu = CudaGradientTests.Engine(CudaGradientTests.LoadParameters(modelName));
        var batch = Batch(gpu.Config.VocabSize, seed: 3);
        var cpuLosses = Steps(cpu, batch, 4, 1e-3f);
        var gpuLosses = Steps(gpu, batch, 4, 1e-3f);
        output.WriteLine($"{modelName} cpu losses  {string.Join(", ", cpuLosses.Select(l => l.ToString("F6")))}");
        output.WriteLine($"{modelName} cuda losses {string.Join(", ", gpuLosses.Select(l => l.ToString("F6")))}");
        for (int i = 0; i < cpuLosses.Length; i++)
            Assert.True(Math.Abs(cpuLosses[i] - gpuLosses[i]) <= 1e-4 * cpuLosses[i], $"step {i}: cuda {gpuLosses[i]} vs cpu {cpuLosses[i]}");
    }

    /// <summary>
    /// bf16 GEMMs with fp32 master weights, in every family: the first loss is the CPU's float32 one within bf16's
    /// rounding (2 %: a wrong bf16 operand, such as a misplaced expert slice, is far off), the loss falls on a repeated
    /// batch (the CPU trainer's falls by 2.7 to 6.4 in these 12 steps) and the masters keep more than bf16's bits.
    /// </summary>
    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h")]
    public void Bf16MixedPrecisionLowersTheLossAndKeepsFp32Masters(string modelName)
    {
        using var gpu = CudaGradientTests.Engine(CudaGradientTests.LoadParameters(modelName), CudaPrecision.BFloat16);
        var batch = Batch(gpu.Config.VocabSize, seed: 4);
        double cpuLoss = new TrainableModel(CudaGradientTests.LoadParameters(modelName)).Evaluate(batch).Loss(gpu.Config.ZLossCoefficient);
        var losses = Steps(gpu, batch, 12, 3e-3f);
        output.WriteLine($"{modelName} bf16 losses {string.Join(", ", losses.Select(l => l.ToString("F4")))} (cpu fp32 first loss {cpuLoss:F4})");
        Assert.True(Math.Abs(losses[0] - cpuLoss) <= 0.02 * cpuLoss, $"first bf16 loss {losses[0]} vs cpu fp32 {cpuLoss}");
        Assert.True(losses[^1] < losses[0] - 0.5, $"loss went from {losses[0]} to {losses[^1]}");
        gpu.SyncToHost();
        var values = gpu.Parameters.All.SelectMany(p => p.Value).ToArray();
        Assert.Contains(values, v => (BitConverter.SingleToUInt32Bits(v) & 0xffff) != 0); // not bf16-representable: true fp32 masters
    }

    /// <summary>Not a test: training throughput of the default model's shapes (CPU, CUDA fp32, CUDA bf16), when BAMBA_TRAIN_BENCH is set.</summary>
    [Fact]
    public void ThroughputReport()
    {
        string? outFile = Environment.GetEnvironmentVariable("BAMBA_TRAIN_BENCH");
        if (string.IsNullOrEmpty(outFile)) Assert.Skip("set BAMBA_TRAIN_BENCH=FILE to run the training benchmark");
        Gpu.Require();
        var config = DefaultModelShapes;
        var lines = new List<string> { $"model: default-model shapes ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}), random init; rows of 2048 tokens in 8 packed sequences" };
        var batch = new TrainingBatch(Enumerable.Range(0, 8).Select(s => Enumerable.Range(0, 256).Select(t => (s * 7919 + t * 104729) % config.VocabSize).ToArray()).ToList());
        foreach (var (name, make, steps) in new (string, Func<ParameterSet, ITrainingEngine>, int)[]
        {
            ("cpu", p => new CpuTrainingEngine(new TrainableModel(p), new AdamW(p, new AdamWOptions())), 3),
            ("cuda fp32", p => new CudaTrainingEngine(Gpu.Device, p, new AdamW(p, new AdamWOptions()), CudaPrecision.Float32), 30),
            ("cuda bf16", p => new CudaTrainingEngine(Gpu.Device, p, new AdamW(p, new AdamWOptions()), CudaPrecision.BFloat16), 30),
        })
        {
            using var engine = make(ParameterSet.Initialize(config, 1));
            Steps(engine, batch, 1, 1e-3f); // warm-up: kernels compiled and loaded, GEMM plans made
            var clock = Stopwatch.StartNew();
            var losses = Steps(engine, batch, steps, 1e-3f);
            double seconds = clock.Elapsed.TotalSeconds;
            lines.Add($"{name}: {steps} steps in {seconds:F2} s, {steps * batch.Rows / seconds:F0} tokens/s; loss {losses[0]:F3} → {losses[^1]:F3}");
        }
        foreach (var l in lines) output.WriteLine(l);
        File.WriteAllLines(outFile, lines);
    }

    private static BambaConfig DefaultModelShapes => new()
    {
        VocabSize = 4096, HiddenSize = 192, IntermediateSize = 384, NumHiddenLayers = 6, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        AttnLayerIndices = [3], MambaNHeads = 6, MambaDHead = 64, MambaDState = 32, MambaChunkSize = 64, MaxPositionEmbeddings = 4096,
    };

    internal static TrainingBatch Batch(int vocab, int seed)
    {
        var rng = new Random(seed);
        return new TrainingBatch(new[] { 30, 12, 50 }.Select(l => Enumerable.Range(0, l).Select(_ => rng.Next(vocab)).ToArray()).ToList());
    }

    /// <summary>Steps as the Trainer takes them (one row per step, clipping at 1), returning each step's loss.</summary>
    internal static double[] Steps(ITrainingEngine engine, TrainingBatch batch, int steps, float lr)
    {
        var losses = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            engine.ZeroGrad();
            float zScale = (float)engine.Config.ZLossCoefficient / batch.Rows;
            losses[i] = engine.ForwardBackward(batch, 1f / batch.TargetCount, zScale).Loss(engine.Config.ZLossCoefficient);
            engine.ClipGradients(1.0);
            engine.Update(lr);
        }
        return losses;
    }
}

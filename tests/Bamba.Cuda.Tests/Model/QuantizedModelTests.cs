using Bamba.Backends.Cuda;
using Bamba.Benchmarks;
using Bamba.Configuration;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Weights.CompressedTensors;
using Bamba.Weights.Gguf;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Quantized files on the GPU: a GGUF file and an FP8 checkpoint, each kept quantized on the device, against the CPU
/// reference over the same decoded weights (a GGUF converted back to float32 safetensors; the CPU's own FP8 path,
/// weight-only as on the GPU). fp32 mode: every position's logits within 1e-3; bf16 mode (decode through the
/// quantized GEMVs): each step's logits at cosine ≥ 0.999.
/// </summary>
public sealed class QuantizedModelTests : IDisposable
{
    private const double Fp32Tol = 1e-3;
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-cuda-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>tiny-bamba with rows of 256 (the tiny fixtures' rows of 64 are too short for K-quant blocks, which fall back to Q8_0).</summary>
    private string WideBamba()
    {
        string dir = Path.Combine(_dir, "wide-bamba");
        var tiny = BambaConfigReader.Load(Path.Combine(Fixtures.Model("tiny-bamba"), "config.json"));
        SyntheticModel.Write(tiny with { HiddenSize = 256, IntermediateSize = 512, MambaNHeads = 32 }, dir, Weights.DType.F32, seed: 5);
        return dir;
    }

    /// <summary>The GGUF file of <paramref name="model"/> at <paramref name="type"/>, and its weights decoded to a float32 model directory.</summary>
    private (string Gguf, string Decoded) Gguf(string model, string type)
    {
        string source = model == "wide-bamba" ? WideBamba() : Fixtures.Model(model);
        string file = Path.Combine(_dir, $"{model}-{type}.gguf"), decoded = Path.Combine(_dir, $"{model}-{type}-f32");
        ModelConversion.ToGguf(source, file, GgufFileType.Parse(type));
        ModelConversion.ToHf(file, decoded, Weights.DType.F32);
        return (file, decoded);
    }

    private string Fp8(string model)
    {
        Fp8Quantizer.Write(Fixtures.Model(model), Fp8Dir(model), ActivationScheme.Dynamic, null);
        return Fp8Dir(model);
    }

    private string Fp8Dir(string model) => Path.Combine(_dir, $"{model}-fp8");

    [Theory]
    [InlineData("tiny-bamba", "q8_0")]
    [InlineData("tiny-granite-moe-hybrid", "q4_0")]
    [InlineData("tiny-nemotron-h", "q8_0")]
    [InlineData("wide-bamba", "q4_k_m")]
    [InlineData("wide-bamba", "q6_k")]
    public void GgufFp32LogitsMatchTheCpuOverTheDecodedWeights(string model, string type)
    {
        var (file, decoded) = Gguf(model, type);
        Gpu.Require();
        AssertFp32Parity(CudaModel.Load(file, CudaPrecision.Float32), BambaModel.Load(decoded), $"{model} {type}");
    }

    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("small-bamba")]
    public void Fp8Fp32LogitsMatchTheCpu(string model)
    {
        Gpu.Require();
        string dir = Fp8(model);
        AssertFp32Parity(CudaModel.Load(dir, CudaPrecision.Float32), BambaModel.Load(dir), $"{model} fp8");
    }

    /// <summary>bf16 decode streams the quantized weights through their GEMVs (dense models: an expert near-tie may route otherwise in bf16).</summary>
    [Theory]
    [InlineData("wide-bamba", "q4_k_m")]
    [InlineData("tiny-bamba", "q8_0")]
    [InlineData("small-bamba", "fp8")]
    public void Bf16DecodeFollowsTheCpu(string model, string type)
    {
        Gpu.Require();
        var (path, reference) = type == "fp8" ? (Fp8(model), Fp8Dir(model)) : Gguf(model, type);
        using var gpu = CudaModel.Load(path, CudaPrecision.BFloat16);
        using var cpu = BambaModel.Load(reference);
        var random = new Random(11);
        int[] prompt = Enumerable.Range(0, 12).Select(_ => random.Next(3, gpu.Config.VocabSize)).ToArray();
        var (gs, cs) = (gpu.CreateState(), cpu.CreateState());
        var (g, c) = (gpu.Step([gs], [new SequenceInput(prompt)])[0], cpu.Step([cs], [new SequenceInput(prompt)])[0]);
        for (int step = 0; step < 6; step++)
        {
            Assert.True(Close.Cosine(c, g) >= 0.999, $"{model} {type} step {step}: cosine {Close.Cosine(c, g):F5}");
            int next = Array.IndexOf(c, c.Max());
            (g, c) = (gpu.Step([gs], [new SequenceInput(new[] { next })])[0], cpu.Step([cs], [new SequenceInput(new[] { next })])[0]);
        }
        gs.Dispose();
        cs.Dispose();
    }

    [Fact]
    public void AGgufFileLoadsWithItsTokenizerConfig()
    {
        Gpu.Require();
        var (file, _) = Gguf("tiny-bamba", "q8_0");
        using var model = CudaModel.Load(file);
        Assert.Equal(BambaConfigReader.Load(Path.Combine(Fixtures.Model("tiny-bamba"), "config.json")).VocabSize, model.Config.VocabSize);
        Assert.True(model.WeightBytes > 0);
    }

    private static void AssertFp32Parity(CudaModel gpuModel, BambaModel cpuModel, string what)
    {
        using var gpu = gpuModel;
        using var cpu = cpuModel;
        var random = new Random(7);
        int[] ids = Enumerable.Range(0, 20).Select(_ => random.Next(3, gpu.Config.VocabSize)).ToArray();
        var expected = cpu.Forward([cpu.CreateState()], [new SequenceInput(ids)], new ForwardOptions { AllLogits = true }).Logits;
        var actual = gpu.Forward([gpu.CreateState()], [new SequenceInput(ids)]);
        Close.Assert(expected, actual, Fp32Tol, what + " logits");
    }
}

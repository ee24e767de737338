using System.Text.Json.Nodes;
using Bamba.Modeling;
using Bamba.Tests.Cli;
using Bamba.Weights;

namespace Bamba.Tests.Weights;

/// <summary>
/// Every fixture model quantized by <c>bamba quantize --fp8</c>: the files follow compressed-tensors' layout, and the
/// FP8 checkpoint's logits (weight-only, prefill and decode) equal a float32 forward over weights dequantized here
/// with the test's own e4m3 table (<see cref="Fp8E4M3Tests.Reference"/>) and the stored scales.
/// </summary>
public sealed class Fp8CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-fp8-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory, MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void LogitsEqualTheDequantizedFloat32Forward(string name)
    {
        string fp8 = Quantize(name, "fp8");
        string reference = Dequantized(fp8, Path.Combine(_dir, "reference"));
        using var quantized = BambaModel.Load(fp8);
        using var dequantized = BambaModel.Load(reference);
        int vocab = quantized.Config.VocabSize;
        int[] prompt = [.. Enumerable.Range(0, 9).Select(i => (i * 37 + 3) % vocab)];
        using var s1 = quantized.CreateState();
        using var s2 = dequantized.CreateState();
        AssertClose(dequantized.StepAllLogits([s2], [prompt])[0], quantized.StepAllLogits([s1], [prompt])[0], "prefill");
        for (int t = 0; t < 3; t++) // decode steps take the one-row path (DecodeGemv)
            AssertClose(dequantized.Step([s2], [new[] { 5 + t }])[0], quantized.Step([s1], [new[] { 5 + t }])[0], $"decode {t}");
    }

    /// <summary>llm-compressor's FP8 scheme scales per tensor: the checkpoint rewritten with one scale [1] per weight (and
    /// strategy tensor) loads and equals its own dequantized float32 forward.</summary>
    [Fact]
    public void PerTensorScalesLoad()
    {
        string fp8 = Quantize("tiny-granite-hybrid-dense-rope", "channel"), perTensor = Path.Combine(_dir, "tensor");
        Directory.CreateDirectory(perTensor);
        using (var file = SafetensorsFile.Open(Path.Combine(fp8, "model.safetensors")))
            SafetensorsWriter.Write(Path.Combine(perTensor, "model.safetensors"), file.Tensors.Select(kv => kv.Key.EndsWith(".weight_scale", StringComparison.Ordinal)
                ? new SafetensorsWriter.Entry(kv.Key, kv.Value.DType, [1], file.Get(kv.Value).Bytes[..kv.Value.DType.Size()].ToArray())
                : new SafetensorsWriter.Entry(kv.Key, kv.Value.DType, kv.Value.Shape, file.Get(kv.Value).Bytes.ToArray())).ToList());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fp8, "config.json")))!;
        config["quantization_config"]!["config_groups"]!["group_0"]!["weights"]!["strategy"] = "tensor";
        File.WriteAllText(Path.Combine(perTensor, "config.json"), config.ToJsonString());
        using var quantized = BambaModel.Load(perTensor);
        using var dequantized = BambaModel.Load(Dequantized(perTensor, Path.Combine(_dir, "reference")));
        int[] prompt = [3, 40, 77, 5, 9, 120, 61];
        using var s1 = quantized.CreateState();
        using var s2 = dequantized.CreateState();
        AssertClose(dequantized.StepAllLogits([s2], [prompt])[0], quantized.StepAllLogits([s1], [prompt])[0], "per-tensor prefill");
    }

    /// <summary><c>bamba convert --to hf</c> of an FP8 checkpoint is its dequantized float32 copy, without the scale tensors.</summary>
    [Fact]
    public void ConvertToHfDequantizes()
    {
        string fp8 = Quantize("tiny-nemotron-h", "fp8"), hf = Path.Combine(_dir, "hf");
        var r = CliRunner.Run("convert", "--model", fp8, "--to", "hf", "--out", hf);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var converted = SafetensorsFile.Open(Path.Combine(hf, "model.safetensors"));
        using var reference = SafetensorsFile.Open(Path.Combine(Dequantized(fp8, Path.Combine(_dir, "reference")), "model.safetensors"));
        Assert.Equal(reference.Tensors.Keys.Order(), converted.Tensors.Keys.Order());
        foreach (var (name, info) in reference.Tensors)
            Assert.True(reference.Get(info).Bytes.SequenceEqual(converted.Get(converted.Tensors[name]).Bytes), name);
        Assert.False(JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!.AsObject().ContainsKey("quantization_config"));
    }

    [Fact]
    public void FilesFollowCompressedTensorsLayout()
    {
        string fp8 = Quantize("tiny-granite-moe-hybrid", "fp8");
        var q = JsonNode.Parse(File.ReadAllText(Path.Combine(fp8, "config.json")))!["quantization_config"]!;
        Assert.Equal("compressed-tensors", (string?)q["quant_method"]);
        Assert.Equal("float-quantized", (string?)q["format"]);
        Assert.Equal("channel", (string?)q["config_groups"]!["group_0"]!["weights"]!["strategy"]);
        Assert.Equal("token", (string?)q["config_groups"]!["group_0"]!["input_activations"]!["strategy"]);
        Assert.True((bool)q["config_groups"]!["group_0"]!["input_activations"]!["dynamic"]!);
        Assert.Contains("lm_head", q["ignore"]!.AsArray().Select(n => (string?)n));
        using var file = SafetensorsFile.Open(Path.Combine(fp8, "model.safetensors"));
        var inProj = file.Tensors["model.layers.0.mamba.in_proj.weight"];
        Assert.Equal(DType.F8_E4M3, inProj.DType);
        Assert.Equal([inProj.Shape[0], 1L], file.Tensors["model.layers.0.mamba.in_proj.weight_scale"].Shape);
        Assert.Equal(DType.F32, file.Tensors["model.embed_tokens.weight"].DType);
        Assert.Equal(DType.F32, file.Tensors["model.layers.0.block_sparse_moe.router.layer.weight"].DType);
        Assert.DoesNotContain(file.Tensors.Keys, k => k.EndsWith(".input_scale", StringComparison.Ordinal));
    }

    /// <summary>The static scheme on the shipped model (it has a tokenizer): every F8 weight gets a positive input_scale [1]
    /// from the calibration text, the config says static per-tensor inputs, and the checkpoint loads and runs.</summary>
    [Fact]
    public void StaticSchemeWritesCalibratedInputScales()
    {
        string calibration = Path.Combine(_dir, "calibration.txt");
        File.WriteAllText(calibration, "The quick brown fox jumps over the lazy dog. Mamba layers carry a state from token to token.");
        string fp8 = Path.Combine(_dir, "static");
        var r = CliRunner.Run("quantize", "--model", Path.Combine(Fixtures.RepositoryRoot, "models", "default"), "--fp8", "--scheme", "static",
            "--calibration", calibration, "--out", fp8, "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var inputs = JsonNode.Parse(File.ReadAllText(Path.Combine(fp8, "config.json")))!["quantization_config"]!["config_groups"]!["group_0"]!["input_activations"]!;
        Assert.Equal("tensor", (string?)inputs["strategy"]);
        Assert.False((bool)inputs["dynamic"]!);
        using (var file = SafetensorsFile.Open(Path.Combine(fp8, "model.safetensors")))
            foreach (var (name, info) in file.Tensors.Where(t => t.Value.DType == DType.F8_E4M3))
            {
                var scale = file.Get(file.Tensors[name[..^".weight".Length] + ".input_scale"]);
                Assert.Equal([1L], scale.Shape);
                Assert.True(scale.ToFloatArray()[0] > 1e-6f, $"{name}: input scale {scale.ToFloatArray()[0]}");
            }
        Assert.Equal(0, CliRunner.Run("score", "--model", fp8, "--ids", "1,2,3").ExitCode);
    }

    /// <summary>Quantized values stay within e4m3's half-step of the originals: |deq − w| ≤ 2⁻⁴·|w| + scale·2⁻¹⁰.</summary>
    [Fact]
    public void DequantizedWeightsStayWithinHalfAStepOfTheOriginals()
    {
        string fp8 = Quantize("small-bamba", "fp8");
        using var original = WeightStore.Open(Fixtures.Model("small-bamba"));
        using var quantized = WeightStore.Open(fp8);
        const string name = "model.layers.1.feed_forward.down_proj.weight";
        var w = original.Get(name).ToFloatArray();
        var q = quantized.Get(name);
        var deq = q.ToFloatArray();
        var scales = q.RowScales.ToArray();
        long cols = q.Shape[1];
        for (long i = 0; i < w.Length; i++)
            Assert.True(Math.Abs(deq[i] - w[i]) <= Math.Abs(w[i]) / 16 + scales[i / cols] / 1024, $"{name}[{i}]: {deq[i]} for {w[i]}");
    }

    private string Quantize(string name, string output)
    {
        string path = Path.Combine(_dir, output);
        var r = CliRunner.Run("quantize", "--model", Fixtures.Model(name), "--fp8", "--out", path, "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return path;
    }

    /// <summary>A float32 copy of <paramref name="fp8"/>: F8 weights decoded value × scale, scale tensors dropped,
    /// quantization_config removed.</summary>
    internal static string Dequantized(string fp8, string output)
    {
        Directory.CreateDirectory(output);
        using var file = SafetensorsFile.Open(Path.Combine(fp8, "model.safetensors"));
        var entries = new List<SafetensorsWriter.Entry>();
        foreach (var (name, info) in file.Tensors)
        {
            if (name.EndsWith("_scale", StringComparison.Ordinal)) continue;
            var values = info.DType == DType.F8_E4M3 ? Decode(file, info) : file.Get(info).ToFloatArray();
            entries.Add(new SafetensorsWriter.Entry(name, DType.F32, info.Shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        }
        SafetensorsWriter.Write(Path.Combine(output, "model.safetensors"), entries);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fp8, "config.json")))!.AsObject();
        config.Remove("quantization_config");
        File.WriteAllText(Path.Combine(output, "config.json"), config.ToJsonString());
        return output;
    }

    private static float[] Decode(SafetensorsFile file, TensorInfo weight)
    {
        var bytes = file.Get(weight).Bytes;
        var scales = file.Get(file.Tensors[weight.Name[..^".weight".Length] + ".weight_scale"]).ToFloatArray();
        long cols = weight.Shape[^1];
        var values = new float[bytes.Length];
        for (int i = 0; i < values.Length; i++) values[i] = Fp8E4M3Tests.Reference(bytes[i]) * scales[scales.Length == 1 ? 0 : i / cols];
        return values;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Max(MathF.Abs), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 1e-4f * scale, $"{what}: max |Δ| {worst} against max |logit| {scale}");
    }
}

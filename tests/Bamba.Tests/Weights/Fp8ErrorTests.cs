using System.Text;
using System.Text.Json.Nodes;
using Bamba.Tests.Cli;
using Bamba.Weights;

namespace Bamba.Tests.Weights;

/// <summary>
/// A damaged or unsupported FP8 checkpoint (config or tensors) and bad <c>bamba quantize</c> flags: one line naming
/// what is wrong, exit 2. Each test quantizes tiny-bamba, then damages its copy.
/// </summary>
public sealed class Fp8ErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-fp8-err-").FullName;
    private const string InProj = "model.layers.0.mamba.in_proj";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Quantized(Action<JsonObject>? config = null, Action<JsonObject>? header = null)
    {
        string dir = Path.Combine(_dir, "fp8");
        var r = CliRunner.Run("quantize", "--model", Fixtures.Model("tiny-bamba"), "--fp8", "--out", dir, "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        if (config is not null)
        {
            var root = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
            config(root["quantization_config"]!.AsObject());
            if (root["quantization_config"]!.AsObject().ContainsKey("drop")) root.Remove("quantization_config");
            File.WriteAllText(Path.Combine(dir, "config.json"), root.ToJsonString());
        }
        if (header is not null) RewriteHeader(Path.Combine(dir, "model.safetensors"), header);
        return dir;
    }

    /// <summary>The file with its header edited and the data section kept byte for byte.</summary>
    private static void RewriteHeader(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        long length = BitConverter.ToInt64(bytes, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)length))!.AsObject();
        edit(header);
        var text = Encoding.UTF8.GetBytes(header.ToJsonString()).ToList();
        while (text.Count % 8 != 0) text.Add((byte)' ');
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((long)text.Count));
        stream.Write(text.ToArray());
        stream.Write(bytes, 8 + (int)length, bytes.Length - 8 - (int)length);
    }

    private static void AssertRefused(string model, string message) =>
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", model), message);

    private static JsonObject Group(JsonObject q) => q["config_groups"]!["group_0"]!.AsObject();

    [Fact]
    public void MalformedQuantizationConfig() =>
        AssertRefused(Quantized(q => q.Remove("config_groups")), "quantization_config.config_groups must be an object of one or more groups");

    [Fact]
    public void TargetsNotAList() =>
        AssertRefused(Quantized(q => Group(q)["targets"] = "Linear"), "config_groups.group_0.targets must be a list of strings");

    [Fact]
    public void OtherQuantMethod() =>
        AssertRefused(Quantized(q => q["quant_method"] = "fp8"), "quantization_config.quant_method 'fp8' is not supported");

    [Fact]
    public void OtherFormat() =>
        AssertRefused(Quantized(q => q["format"] = "pack-quantized"), "quantization_config.format 'pack-quantized' is not supported");

    [Fact]
    public void GroupStrategy() =>
        AssertRefused(Quantized(q =>
        {
            Group(q)["weights"]!["strategy"] = "group";
            Group(q)["weights"]!["group_size"] = 128;
        }), "config_groups.group_0.weights.strategy 'group' is not supported");

    [Fact]
    public void Int4Weights() =>
        AssertRefused(Quantized(q =>
        {
            Group(q)["weights"]!["type"] = "int";
            Group(q)["weights"]!["num_bits"] = 4;
        }), "config_groups.group_0.weights 'int4' is not supported");

    [Fact]
    public void F8WithoutQuantizationConfig() =>
        AssertRefused(Quantized(q => q["drop"] = true), "is F8_E4M3 but");

    [Fact]
    public void IgnoredModuleStoredAsF8() =>
        AssertRefused(Quantized(q => q["ignore"]!.AsArray().Add("re:.*in_proj")), $"'{InProj}.weight' is F8_E4M3 but no quantization_config group targets module '{InProj}'");

    [Fact]
    public void MissingWeightScale() =>
        AssertRefused(Quantized(header: h => h.Remove(InProj + ".weight_scale")), $"tensor '{InProj}.weight_scale' is missing");

    [Fact]
    public void WeightScaleOfTheWrongShape() =>
        AssertRefused(Quantized(header: h => h[InProj + ".weight_scale"]!["shape"] = new JsonArray(296)),
            $"tensor '{InProj}.weight_scale' has shape [296], expected [296, 1]");

    [Fact]
    public void PerTensorConfigWithPerChannelScales() =>
        AssertRefused(Quantized(q => Group(q)["weights"]!["strategy"] = "tensor"), "expected [1] (group_0 scales weights per tensor)");

    [Fact]
    public void StaticInputsWithoutInputScale() =>
        AssertRefused(Quantized(q =>
        {
            Group(q)["input_activations"]!["strategy"] = "tensor";
            Group(q)["input_activations"]!["dynamic"] = false;
        }), ".input_scale' is missing (the scale of F8_E4M3");

    [Fact]
    public void F8TensorOfTheWrongByteLength() =>
        AssertRefused(Quantized(header: h => h[InProj + ".weight"]!["shape"] = new JsonArray(296, 63)),
            $"tensor '{InProj}.weight': 18944 bytes for shape [296, 63] F8_E4M3, expected 18648");

    [Theory]
    [InlineData(new[] { "--out", "x" }, "quantize needs --fp8")]
    [InlineData(new[] { "--fp8", "--scheme", "static", "--out", "x" }, "--scheme static needs --calibration FILE")]
    [InlineData(new[] { "--fp8", "--calibration", "c.txt", "--out", "x" }, "--calibration is for --scheme static")]
    [InlineData(new[] { "--fp8", "--scheme", "int4", "--out", "x" }, "--scheme must be one of dynamic, static")]
    public void BadQuantizeFlags(string[] flags, string message) =>
        CliRunner.AssertUserError(CliRunner.Run(["quantize", "--model", Fixtures.Model("tiny-bamba"), .. flags]), message);

    [Fact]
    public void AlreadyQuantized() =>
        CliRunner.AssertUserError(CliRunner.Run("quantize", "--model", Quantized(), "--fp8", "--out", Path.Combine(_dir, "again")), "already quantized");
}

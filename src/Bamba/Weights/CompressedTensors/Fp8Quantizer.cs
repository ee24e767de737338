using System.Text.Json.Nodes;
using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Weights.CompressedTensors;

/// <summary>
/// <c>bamba quantize --fp8</c>: a float checkpoint to compressed-tensors' FP8 format, as llm-compressor's FP8_DYNAMIC
/// (dynamic) or FP8 (static) schemes write it, except that weights are always scaled per output channel. Every nn.Linear
/// weight becomes F8_E4M3 <c>M.weight</c> with <c>M.weight_scale</c> [rows, 1] (max|row| / 448, stored in the source
/// dtype, and the stored value is the one quantized with); static adds <c>M.input_scale</c> [1] from calibration.
/// The embedding, lm_head and the MoE routers stay as they are (ignore lists lm_head and the routers).
/// </summary>
public static class Fp8Quantizer
{
    /// <summary>The nn.Linear roles that are quantized (routers and the [E, …] expert tensors of Granite are not).</summary>
    private static readonly HashSet<TensorRole> Quantized =
    [
        TensorRole.MambaInProj, TensorRole.MambaOutProj,
        TensorRole.AttentionQ, TensorRole.AttentionK, TensorRole.AttentionV, TensorRole.AttentionO,
        TensorRole.MlpGate, TensorRole.MlpUp, TensorRole.MlpGateUp, TensorRole.MlpDown,
        TensorRole.ExpertUp, TensorRole.ExpertDown,
    ];

    /// <param name="calibration">The calibration tokens for <see cref="ActivationScheme.Static"/>; null for dynamic.</param>
    /// <param name="progress">Called with the stage ("calibration tokens", then "tensors"), items done and items in all.</param>
    public static void Write(string source, string output, ActivationScheme scheme, int[]? calibration, Action<string, int, int>? progress = null)
    {
        if (scheme == ActivationScheme.None) throw new ArgumentException("FP8 inputs are static or dynamic", nameof(scheme));
        var config = BambaConfigReader.Load(Path.Combine(source, "config.json"));
        using var store = WeightStore.Open(source);
        if (store.Tensors.FirstOrDefault(t => t.DType == DType.F8_E4M3) is { } f8)
            throw new BambaException($"{source}: already quantized (tensor '{f8.Name}' is F8_E4M3)");
        var specs = ArchitectureRegistry.TensorsOf(config).All;
        var quantized = specs.Where(s => Quantized.Contains(s.Role) && s.Shape.Length == 2).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = scheme == ActivationScheme.Static ? CalibratedInputs(source, calibration!, progress) : null;
        var names = store.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal).ToList();
        var entries = new List<SafetensorsWriter.Entry>();
        for (int i = 0; i < names.Count; i++)
        {
            var t = store.Get(names[i]);
            if (quantized.Contains(names[i])) entries.AddRange(QuantizeWeight(t, inputs));
            else entries.Add(new SafetensorsWriter.Entry(names[i], t.DType, t.Shape, t.Bytes.ToArray()));
            progress?.Invoke("tensors", i + 1, names.Count);
        }
        Directory.CreateDirectory(output);
        SafetensorsWriter.Write(Path.Combine(output, "model.safetensors"), entries);
        var ignore = new List<string> { "lm_head" };
        ignore.AddRange(specs.Where(s => s.Role == TensorRole.Router && s.Name.EndsWith(Fp8Scales.WeightSuffix, StringComparison.Ordinal))
            .Select(s => s.Name[..^Fp8Scales.WeightSuffix.Length]));
        WriteConfig(source, output, Fp8Config.Describe(scheme, ignore));
        CopySideFiles(source, output);
    }

    private static Dictionary<string, float> CalibratedInputs(string source, int[] tokens, Action<string, int, int>? progress)
    {
        if (tokens.Length == 0) throw new BambaException("--calibration: the text has no tokens");
        using var model = BambaModel.Load(source);
        return Fp8Calibration.MaxInputs(model, tokens, progress);
    }

    /// <summary>M.weight (F8_E4M3), M.weight_scale [rows, 1] and, when calibrated, M.input_scale [1].</summary>
    private static IEnumerable<SafetensorsWriter.Entry> QuantizeWeight(WeightTensor t, Dictionary<string, float>? inputs)
    {
        string module = t.Info.Name[..^Fp8Scales.WeightSuffix.Length];
        var scaleType = t.DType; // compressed-tensors stores scales in the dtype of the weight they scale
        int rows = checked((int)t.Shape[0]), cols = checked((int)t.Shape[1]);
        var codes = new byte[(long)rows * cols];
        var scales = new float[rows];
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            t.ReadFloats((long)r * cols, row);
            scales[r] = Stored(scaleType, Quants.Fp8E4M3.ScaleFor(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row) is var m && float.IsFinite(m) ? Math.Abs(m) : 0));
            Quants.Fp8E4M3.Quantize(row, scales[r], codes.AsSpan(r * cols, cols));
        }
        yield return new SafetensorsWriter.Entry(t.Info.Name, DType.F8_E4M3, t.Shape, codes);
        yield return new SafetensorsWriter.Entry(module + Fp8Scales.WeightScaleSuffix, scaleType, [rows, 1], Encode(scales, scaleType));
        if (inputs is not null)
        {
            float input = Stored(scaleType, Quants.Fp8E4M3.ScaleFor(inputs.GetValueOrDefault(module)));
            yield return new SafetensorsWriter.Entry(module + Fp8Scales.InputScaleSuffix, scaleType, [1], Encode([input], scaleType));
        }
    }

    /// <summary>The value as <paramref name="dtype"/> holds it (a bf16 scale rounds), so quantizing uses what is stored.</summary>
    private static float Stored(DType dtype, float value) => dtype switch
    {
        DType.BF16 => Numerics.BFloat16.ToSingle(Numerics.BFloat16.FromSingle(value)),
        DType.F16 => (float)(Half)value,
        _ => value,
    };

    private static byte[] Encode(float[] values, DType dtype)
    {
        var bytes = new byte[dtype.ByteCount(values.Length)];
        Gguf.GgufExport.Encode(dtype, values, bytes);
        return bytes;
    }

    /// <summary>The source config.json as written, with quantization_config added (every other field kept).</summary>
    private static void WriteConfig(string source, string output, JsonObject quantization)
    {
        var root = JsonNode.Parse(BambaConfigReader.QuoteNonFiniteLiterals(File.ReadAllText(Path.Combine(source, "config.json"))))!.AsObject();
        root["quantization_config"] = quantization;
        File.WriteAllText(Path.Combine(output, "config.json"), root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Tokenizer, generation config, chat template …: every file but the weights and config.json.</summary>
    private static void CopySideFiles(string source, string output)
    {
        foreach (var file in Directory.EnumerateFiles(source))
        {
            string name = Path.GetFileName(file);
            if (name == "config.json" || name.EndsWith(".safetensors", StringComparison.Ordinal) || name == "model.safetensors.index.json") continue;
            File.Copy(file, Path.Combine(output, name), overwrite: true);
        }
    }
}

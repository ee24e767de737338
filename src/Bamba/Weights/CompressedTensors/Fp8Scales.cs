using System.Text.Json;

namespace Bamba.Weights.CompressedTensors;

/// <summary>
/// Gives every F8_E4M3 weight of a store its scales, after checking them against config.json's quantization_config:
/// <c>M.weight</c> F8_E4M3 needs <c>M.weight_scale</c> ([1] per tensor, [rows, 1] per channel) and, for a group with
/// static input activations, <c>M.input_scale</c> ([1]); its module M must be targeted by a group and not ignored.
/// The CPU computes weight-only (the activations stay float32), so input scales are checked, not used.
/// </summary>
public static class Fp8Scales
{
    public const string WeightSuffix = ".weight", WeightScaleSuffix = ".weight_scale", InputScaleSuffix = ".input_scale";

    /// <summary>Binds the scales of <paramref name="store"/>'s F8 tensors, reading <c>config.json</c> beside them.</summary>
    public static void Bind(WeightStore store, string directory)
    {
        var f8 = store.Tensors.Where(t => t.DType == DType.F8_E4M3).ToList();
        if (f8.Count == 0) return;
        string configPath = Path.Combine(directory, "config.json");
        var config = ReadConfig(configPath) ?? throw new BambaException(
            $"{f8[0].File}: tensor '{f8[0].Name}' is F8_E4M3 but {configPath} has no quantization_config");
        foreach (var t in f8) store.SetRowScales(t.Name, RowScales(store, config, t));
    }

    private static QuantizationConfig? ReadConfig(string path)
    {
        if (!File.Exists(path)) return null;
        string text = File.ReadAllText(path);
        Text.JsonUnicode.Require(text, path);
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BambaException($"{path}: expected a JSON object at the top level");
            return QuantizationConfig.Read(doc.RootElement, path);
        }
        catch (JsonException e) { throw new BambaException($"{path}: not valid JSON ({e.Message})"); }
    }

    /// <summary>One scale per row of <paramref name="weight"/>, checked against its group.</summary>
    private static float[] RowScales(WeightStore store, QuantizationConfig config, TensorInfo weight)
    {
        BambaException Bad(string what) => new($"{weight.File}: {what}");
        if (!weight.Name.EndsWith(WeightSuffix, StringComparison.Ordinal) || weight.Shape.Length < 2)
            throw Bad($"tensor '{weight.Name}' is F8_E4M3 but is not a weight matrix (compressed-tensors quantizes module weights)");
        string module = weight.Name[..^WeightSuffix.Length];
        var group = config.GroupOf(module, IsLinear(module, weight)) ?? throw Bad(
            $"tensor '{weight.Name}' is F8_E4M3 but no quantization_config group targets module '{module}' (or ignore lists it)");
        long rows = weight.ElementCount / weight.Shape[^1];
        var scale = Scale(store, module + WeightScaleSuffix, weight.Name, Bad);
        long[] expected = group.Weights == WeightStrategy.Channel ? [rows, 1] : [1];
        if (!SameShape(scale.Shape, expected))
            throw Bad($"tensor '{scale.Info.Name}' has shape {scale.Info.ShapeText}, expected [{string.Join(", ", expected)}] " +
                $"({group.Name} scales weights per {group.Weights.ToString().ToLowerInvariant()})");
        if (group.Inputs == ActivationScheme.Static)
        {
            var input = Scale(store, module + InputScaleSuffix, weight.Name, Bad);
            if (!SameShape(input.Shape, [1])) throw Bad($"tensor '{input.Info.Name}' has shape {input.Info.ShapeText}, expected [1] (a static per-tensor input scale)");
            CheckValues(input.ToFloatArray(), input.Info.Name, Bad);
        }
        var values = scale.ToFloatArray();
        CheckValues(values, scale.Info.Name, Bad);
        return values.Length == rows ? values : Enumerable.Repeat(values[0], checked((int)rows)).ToArray();
    }

    private static WeightTensor Scale(WeightStore store, string name, string weight, Func<string, BambaException> bad)
    {
        if (!store.Contains(name)) throw bad($"tensor '{name}' is missing (the scale of F8_E4M3 '{weight}')");
        var t = store.Get(name);
        if (t.DType is not (DType.F32 or DType.BF16 or DType.F16))
            throw bad($"tensor '{name}' has dtype {t.DType.SafetensorsName()}, expected F32, BF16 or F16");
        return t;
    }

    /// <summary>A scalar [] is accepted for [1] (older writers store 0-d scales).</summary>
    private static bool SameShape(long[] actual, long[] expected) =>
        actual.SequenceEqual(expected) || (actual.Length == 0 && expected is [1]);

    private static void CheckValues(float[] values, string name, Func<string, BambaException> bad)
    {
        int i = Array.FindIndex(values, v => !float.IsFinite(v) || v <= 0);
        if (i >= 0) throw bad($"tensor '{name}' holds {values[i]} at {i}; scales must be finite and positive");
    }

    /// <summary>
    /// The "Linear" class target: every module whose weight is a matrix, except the token embedding (an nn.Embedding).
    /// Routed experts stored as one [E, …] tensor are parameters, not nn.Linear modules, as in transformers.
    /// </summary>
    private static bool IsLinear(string module, TensorInfo weight) =>
        weight.Shape.Length == 2 && !module.EndsWith("embed_tokens", StringComparison.Ordinal) && !module.EndsWith("embeddings", StringComparison.Ordinal);
}

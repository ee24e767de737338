using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Training.Lora;

/// <summary>
/// PEFT's adapter format: <c>adapter_config.json</c> (peft_type LORA, r, lora_alpha, lora_dropout, target_modules ...)
/// and <c>adapter_model.safetensors</c> holding <c>base_model.model.MODULE.lora_A.weight</c> [r, in] and
/// <c>...lora_B.weight</c> [out, r] in float32, which <c>PeftModel.from_pretrained</c> loads. target_modules lists
/// the adapted modules by their full names, so PEFT adapts exactly those (never, say, Granite's experts, which share
/// the shared MLP's <c>input_linear</c> suffix).
/// </summary>
public static class LoraFiles
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    public static bool IsAdapter(string directory) => File.Exists(Path.Combine(directory, ConfigFile));

    public static string ConfigJson(LoraSet set, string? baseModel)
    {
        var s = set.Settings;
        var json = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModel,
            ["r"] = s.Rank,
            ["lora_alpha"] = s.Alpha,
            ["lora_dropout"] = s.Dropout,
            ["target_modules"] = new JsonArray(set.Adapters.Select(a => (JsonNode)a.Module).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
            ["modules_to_save"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["bamba_targets"] = new JsonArray(s.Targets.Select(t => (JsonNode)t).ToArray()),
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public static List<SafetensorsWriter.Entry> Tensors(LoraSet set) =>
        set.Parameters.Select(p => new SafetensorsWriter.Entry(p.Name, DType.F32, p.Shape, MemoryMarshal.AsBytes(p.Value.AsSpan()).ToArray())).ToList();

    public static void Save(string directory, LoraSet set, string? baseModel)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, ConfigFile), ConfigJson(set, baseModel));
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), Tensors(set), new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>The base model's path as the adapter's config records it (null when absent).</summary>
    public static string? BaseModel(string directory) =>
        ReadConfig(directory)["base_model_name_or_path"]?.GetValue<string>();

    /// <summary>Reads an adapter for <paramref name="baseModel"/>: every module of its safetensors must be one of the model's matrices.</summary>
    public static LoraSet Load(string directory, ParameterSet baseModel)
    {
        var (settings, modules) = Read(directory, baseModel.Tensors);
        var set = new LoraSet(baseModel, settings, modules.Select(m => baseModel[m.Weight]));
        for (int i = 0; i < modules.Count; i++)
        {
            modules[i].A.CopyTo(set.Adapters[i].A.Value, 0);
            modules[i].B.CopyTo(set.Adapters[i].B.Value, 0);
        }
        return set;
    }

    /// <summary>An adapter for inference: the unmerged delta of each adapted matrix, by the base weight's name.</summary>
    public static Dictionary<string, LowRankDelta> ReadDeltas(string directory, BambaConfig config)
    {
        var map = ArchitectureRegistry.TensorsOf(config);
        var (settings, modules) = Read(directory, map);
        return modules.ToDictionary(m => m.Weight, m => new LowRankDelta(m.A, m.B, settings.Rank, (int)m.Shape[1], (int)m.Shape[0], settings.Scale));
    }

    private sealed record Module(string Weight, long[] Shape, float[] A, float[] B);

    /// <summary>The settings and every adapted module's A and B, checked against the base model's tensors.</summary>
    private static (LoraSettings Settings, List<Module> Modules) Read(string directory, TensorMap tensors)
    {
        var config = ReadConfig(directory);
        string where = Path.Combine(directory, ConfigFile);
        if (config["peft_type"]?.GetValue<string>() is not "LORA") throw new BambaException($"{where}: peft_type must be \"LORA\"");
        foreach (var unsupported in new[] { "use_rslora", "use_dora", "fan_in_fan_out" })
            if (config[unsupported]?.GetValue<bool>() == true) throw new BambaException($"{where}: {unsupported} true is not supported");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (config[pattern] is JsonObject { Count: > 0 }) throw new BambaException($"{where}: a per-module {pattern} is not supported");
        int rank = Number(config, "r", where) is var r and >= 1 and <= 65536 ? (int)r : throw new BambaException($"{where}: r must be a positive integer");
        float alpha = (float)Number(config, "lora_alpha", where);
        float dropout = config["lora_dropout"] is { } d ? (float)d.GetValue<double>() : 0f;
        var targets = config["bamba_targets"] is JsonArray t ? t.Select(n => n!.GetValue<string>()).ToList() : ["(from PEFT)"];
        var settings = new LoraSettings(rank, alpha, dropout, targets);

        string weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath)) throw new BambaException($"{weightsPath}: not found");
        using var file = SafetensorsFile.Open(weightsPath);
        // Adaptable: the 2-D weights (nn.Linear modules), by module name, in the model's own order (layer by layer).
        var matrices = tensors.All.Where(s => s.Shape.Length == 2 && s.Name.EndsWith(".weight", StringComparison.Ordinal))
            .ToDictionary(s => s.Name[..^".weight".Length], StringComparer.Ordinal);
        var names = file.Tensors.Keys.Select(k => ModuleOf(k, weightsPath)).ToHashSet(StringComparer.Ordinal);
        foreach (var name in names.Order(StringComparer.Ordinal))
            if (!matrices.ContainsKey(name)) throw new BambaException($"{weightsPath}: the base model has no module '{name}'");
        var modules = new List<Module>();
        foreach (var (name, spec) in matrices.Where(m => names.Contains(m.Key)))
        {
            float[] Tensor(string which, long[] shape)
            {
                string key = LoraAdapter.TensorName(name, which);
                if (!file.Tensors.TryGetValue(key, out var info)) throw new BambaException($"{weightsPath}: tensor '{key}' is missing");
                if (!info.Shape.SequenceEqual(shape))
                    throw new BambaException($"{weightsPath}: '{key}' has shape {info.ShapeText}, expected [{string.Join(", ", shape)}] for r = {rank}");
                var values = new float[shape[0] * shape[1]];
                file.Get(info).ReadFloats(0, values);
                return values;
            }
            modules.Add(new Module(spec.Name, spec.Shape, Tensor("lora_A", [rank, spec.Shape[1]]), Tensor("lora_B", [spec.Shape[0], rank])));
        }
        return (settings, modules);
    }

    private static string ModuleOf(string tensor, string where)
    {
        const string prefix = "base_model.model.";
        foreach (var suffix in new[] { ".lora_A.weight", ".lora_B.weight" })
            if (tensor.StartsWith(prefix, StringComparison.Ordinal) && tensor.EndsWith(suffix, StringComparison.Ordinal))
                return tensor[prefix.Length..^suffix.Length];
        throw new BambaException($"{where}: '{tensor}' is not a LoRA tensor (expected base_model.model.MODULE.lora_A.weight or .lora_B.weight)");
    }

    private static JsonObject ReadConfig(string directory)
    {
        string path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new BambaException($"{path}: not found (an adapter directory holds adapter_config.json and adapter_model.safetensors)");
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new BambaException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new BambaException($"{path}: not valid JSON ({e.Message})"); }
    }

    private static double Number(JsonObject config, string key, string where)
    {
        try { return config[key]?.GetValue<double>() ?? throw new BambaException($"{where}: {key} is missing"); }
        catch (Exception e) when (e is FormatException or InvalidOperationException) { throw new BambaException($"{where}: {key} must be a number"); }
    }
}

using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// <c>bamba convert</c>: a model directory or GGUF file to a GGUF file of a chosen type, or to an HF directory
/// (config.json + dequantized model.safetensors + tokenizer), so a GGUF can be fine-tuned.
/// </summary>
public static class ModelConversion
{
    /// <summary>A source opened for conversion: config, tensors under HF names, tokenizer metadata in GGUF form.</summary>
    private sealed record Source(BambaConfig Config, WeightStore Store, List<KeyValuePair<string, GgufValue>> Tokenizer, string Name) : IDisposable
    {
        public void Dispose() => Store.Dispose();
    }

    public static void ToGguf(string source, string output, GgufFileType type, Action<int, int>? progress = null)
    {
        using var s = Open(source);
        GgufExport.Write(output, s.Config, s.Store, type, s.Name, s.Tokenizer, progress);
    }

    public static void ToHf(string source, string outputDirectory, DType dtype, Action<int, int>? progress = null)
    {
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16)) throw new BambaException("--to hf writes f32, bf16 or f16 tensors");
        using var s = Open(source);
        Directory.CreateDirectory(outputDirectory);
        var names = s.Store.Tensors.Select(t => t.Name).Where(n => !(n == "lm_head.weight" && s.Config.TieWordEmbeddings) && !IsFp8Scale(s.Store, n))
            .Order(StringComparer.Ordinal).ToList();
        var entries = new List<SafetensorsWriter.Entry>();
        foreach (var name in names)
        {
            var t = s.Store.Get(name);
            entries.Add(new SafetensorsWriter.Entry(name, dtype, t.Shape, Encode(t.ToFloatArray(), dtype)));
            progress?.Invoke(entries.Count, names.Count);
        }
        SafetensorsWriter.Write(Path.Combine(outputDirectory, "model.safetensors"), entries);
        var config = s.Config with { Dtype = dtype switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" } };
        BambaConfigWriter.Save(config, Path.Combine(outputDirectory, "config.json"));
        GgufTokenizer.WriteHf(s.Tokenizer, outputDirectory);
    }

    /// <summary>An FP8 weight's scale tensor: applied when the weight is read, so a dequantized copy leaves it out.</summary>
    private static bool IsFp8Scale(WeightStore store, string name)
    {
        string? module = name.EndsWith(CompressedTensors.Fp8Scales.WeightScaleSuffix, StringComparison.Ordinal) ? name[..^CompressedTensors.Fp8Scales.WeightScaleSuffix.Length]
            : name.EndsWith(CompressedTensors.Fp8Scales.InputScaleSuffix, StringComparison.Ordinal) ? name[..^CompressedTensors.Fp8Scales.InputScaleSuffix.Length] : null;
        string weight = module + CompressedTensors.Fp8Scales.WeightSuffix;
        return module is not null && store.Contains(weight) && store.Get(weight).DType == DType.F8_E4M3;
    }

    private static byte[] Encode(float[] values, DType dtype)
    {
        var bytes = new byte[dtype.ByteCount(values.Length)];
        GgufExport.Encode(dtype, values, bytes);
        return bytes;
    }

    private static Source Open(string path)
    {
        if (GgufModel.IsGgufPath(path))
        {
            var g = GgufModel.Open(path);
            var tokenizer = g.Metadata.Values.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal) || kv.Key == GgufTokenizer.PlaceholderKey).ToList();
            return new Source(g.Config, g.Store, tokenizer, g.Metadata.OptionalString("general.name") ?? Path.GetFileNameWithoutExtension(path));
        }
        if (!Directory.Exists(path)) throw new BambaException($"{path}: model directory not found");
        var config = BambaConfigReader.Load(Path.Combine(path, "config.json"));
        var store = WeightStore.Open(path);
        try { return new Source(config, store, GgufTokenizer.FromHf(path, config.VocabSize), new DirectoryInfo(path).Name); }
        catch { store.Dispose(); throw; }
    }
}

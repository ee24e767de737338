using System.Text.Json;
using Bamba.Weights;

namespace Bamba.Tests.Modeling;

/// <summary>A fixture model's reference.safetensors and reference.json, made with transformers.</summary>
public sealed class Reference : IDisposable
{
    private readonly SafetensorsFile _file;

    public Reference(string model)
    {
        string dir = Fixtures.Model(model);
        _file = SafetensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
        Json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json"))).RootElement.Clone();
    }

    public JsonElement Json { get; }

    public bool Has(string key) => _file.Tensors.ContainsKey(key);

    public WeightTensor Tensor(string key) => _file.Get(_file.Tensors[key]);

    public float[] Floats(string key) => Tensor(key).ToFloatArray();

    /// <summary>An int64 [B, T] tensor as rows of ints.</summary>
    public int[][] Rows(string key)
    {
        var t = Tensor(key);
        var flat = t.ToInt64Array();
        int b = (int)t.Shape[0], n = (int)t.Shape[1];
        return Enumerable.Range(0, b).Select(i => flat.Skip(i * n).Take(n).Select(v => (int)v).ToArray()).ToArray();
    }

    /// <summary>
    /// The reference gradient of a checkpoint tensor. transformers names gradients after its modules in memory, which
    /// for the newer families differ from the checkpoint's keys: Nemotron-H's <c>backbone.</c> is <c>model.</c> and its
    /// per-expert matrices are one stacked parameter; Granite's stacked experts and router have new names.
    /// </summary>
    public float[] Gradient(string name)
    {
        string key = "grad." + name;
        if (Has(key)) return Floats(key);
        key = "grad." + System.Text.RegularExpressions.Regex.Replace(name, "^backbone\\.", "model.")
            .Replace("block_sparse_moe.input_linear.weight", "block_sparse_moe.experts.gate_up_proj")
            .Replace("block_sparse_moe.output_linear.weight", "block_sparse_moe.experts.down_proj")
            .Replace("router.layer.weight", "router.weight");
        if (Has(key)) return Floats(key);
        var expert = System.Text.RegularExpressions.Regex.Match(key, "^(.*\\.experts)\\.(\\d+)\\.(up_proj|down_proj)\\.weight$");
        Assert.True(expert.Success && Has($"{expert.Groups[1]}.{expert.Groups[3]}"), $"reference has no gradient for {name}");
        var stacked = Floats($"{expert.Groups[1]}.{expert.Groups[3]}");
        int experts = (int)Tensor($"{expert.Groups[1]}.{expert.Groups[3]}").Shape[0], e = int.Parse(expert.Groups[2].Value);
        int size = stacked.Length / experts;
        return stacked.AsSpan(e * size, size).ToArray();
    }

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public void Dispose() => _file.Dispose();
}

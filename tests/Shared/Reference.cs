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

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public void Dispose() => _file.Dispose();
}

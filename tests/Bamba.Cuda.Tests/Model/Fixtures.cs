using System.Text.Json;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// The shared fixture models: $BAMBA_FIXTURES if set (the GPU machine gets them in the carried archive), else
/// ../shared/fixtures beside the repository root (the folder holding Bamba.slnx).
/// </summary>
public static class Fixtures
{
    public static readonly string[] ModelNames = ["tiny-bamba", "tiny-bamba-bf16-sharded", "small-bamba"];

    public static string Root { get; } = FindRoot();

    public static string Model(string name) => Path.Combine(Root, "models", name);

    public static TheoryData<string> Models() => new(ModelNames);

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("BAMBA_FIXTURES") is { Length: > 0 } env) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bamba.slnx")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures"));
        return Path.Combine(AppContext.BaseDirectory, "fixtures");
    }
}

/// <summary>A fixture model's reference.safetensors and reference.json (made with transformers in float32).</summary>
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

    public float[] Floats(string key) => _file.Get(_file.Tensors[key]).ToFloatArray();

    public int[][] Rows(string key)
    {
        var t = _file.Get(_file.Tensors[key]);
        var flat = t.ToInt64Array();
        int b = (int)t.Shape[0], n = (int)t.Shape[1];
        return Enumerable.Range(0, b).Select(i => flat.Skip(i * n).Take(n).Select(v => (int)v).ToArray()).ToArray();
    }

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public void Dispose() => _file.Dispose();
}

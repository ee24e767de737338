using System.Text.Json;

namespace Bamba.Weights;

/// <summary>
/// The weights of a model directory: <c>model.safetensors</c>, or the shards named by
/// <c>model.safetensors.index.json</c>, or tensors a GGUF file maps to HF names (<see cref="Gguf.GgufModel"/>).
/// Tensors stay memory-mapped in their stored dtype; F8_E4M3 weights get their scales from the checkpoint's
/// compressed-tensors quantization_config (<see cref="CompressedTensors.Fp8Scales"/>).
/// </summary>
public sealed class WeightStore : IDisposable
{
    private readonly List<IDisposable> _owners;
    private readonly Dictionary<string, WeightTensor> _tensors = new(StringComparer.Ordinal);

    private WeightStore(List<SafetensorsFile> files)
    {
        _owners = [.. files];
        foreach (var file in files)
            foreach (var (name, info) in file.Tensors)
                if (!_tensors.TryAdd(name, file.Get(info)))
                    throw new BambaException($"{file.Path}: tensor '{name}' is also stored in {_tensors[name].Info.File}");
    }

    /// <summary>A store over tensors whose memory <paramref name="owners"/> keep alive (and free on dispose).</summary>
    public WeightStore(IEnumerable<WeightTensor> tensors, IEnumerable<IDisposable> owners)
    {
        _owners = owners.ToList();
        foreach (var t in tensors) _tensors.Add(t.Info.Name, t);
    }

    public IEnumerable<TensorInfo> Tensors => _tensors.Values.Select(v => v.Info);

    public static WeightStore Open(string directory)
    {
        if (!Directory.Exists(directory)) throw new BambaException($"{directory}: model directory not found");
        string index = Path.Combine(directory, "model.safetensors.index.json");
        string single = Path.Combine(directory, "model.safetensors");
        var store = File.Exists(index) ? OpenAll(ShardsFromIndex(index).Select(s => Path.Combine(directory, s)))
            : File.Exists(single) ? OpenAll([single])
            : throw new BambaException($"{directory}: no model.safetensors or model.safetensors.index.json");
        try { CompressedTensors.Fp8Scales.Bind(store, directory); }
        catch { store.Dispose(); throw; }
        return store;
    }

    /// <summary>Gives the F8_E4M3 tensor <paramref name="name"/> its per-row scales.</summary>
    internal void SetRowScales(string name, float[] scales) => _tensors[name] = _tensors[name].WithRowScales(scales);

    private static WeightStore OpenAll(IEnumerable<string> paths)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (var path in paths) files.Add(SafetensorsFile.Open(path));
            return new WeightStore(files);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static IReadOnlyList<string> ShardsFromIndex(string indexPath)
    {
        try
        {
            string text = File.ReadAllText(indexPath);
            Bamba.Text.JsonUnicode.Require(text, indexPath);
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new BambaException($"{indexPath}: missing the 'weight_map' object");
            var shards = map.EnumerateObject().Select(p => p.Value.ValueKind == JsonValueKind.String
                ? p.Value.GetString()! : throw new BambaException($"{indexPath}: weight_map['{p.Name}'] must be a file name")).Distinct().ToList();
            foreach (var s in shards)
                if (s.Contains('/') || s.Contains('\\') || s == "..")
                    throw new BambaException($"{indexPath}: shard name '{s}' must be a plain file name");
            return shards;
        }
        catch (JsonException e) { throw new BambaException($"{indexPath}: not valid JSON ({e.Message})"); }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public WeightTensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new BambaException($"tensor '{name}' is missing from the checkpoint");

    /// <summary>The tensor, checked to have exactly the shape the config implies.</summary>
    public WeightTensor Get(string name, params long[] shape)
    {
        var t = Get(name);
        if (!t.DType.IsFloat())
            throw new BambaException($"{t.Info.File}: tensor '{name}' has dtype {t.DType.SafetensorsName()}, expected a float or block-quantized type");
        if (!t.Shape.SequenceEqual(shape))
            throw new BambaException($"{t.Info.File}: tensor '{name}' has shape {t.Info.ShapeText}, expected [{string.Join(", ", shape)}] from the config");
        return t;
    }

    public void Dispose()
    {
        foreach (var owner in _owners) owner.Dispose();
    }
}

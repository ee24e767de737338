using System.Text;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Tests.Weights;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteRaw(string header, int dataBytes, long? declaredLength = null)
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var h = Encoding.UTF8.GetBytes(header);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes(declaredLength ?? h.Length));
        f.Write(h);
        f.Write(new byte[dataBytes]);
        return path;
    }

    private static string Message(Action a) => Assert.Throws<BambaException>(a).Message;

    [Fact]
    public void RoundTripsEveryDtype()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var floats = new float[] { 1.5f, -2f, 0.25f, 3f };
        SafetensorsWriter.Write(path,
        [
            new("a", DType.F32, [2, 2], floats.SelectMany(BitConverter.GetBytes).ToArray()),
            new("b", DType.BF16, [4], floats.SelectMany(v => BitConverter.GetBytes(Numerics.BFloat16.FromSingle(v))).ToArray()),
            new("c", DType.F16, [4], floats.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray()),
        ]);
        using var file = SafetensorsFile.Open(path);
        foreach (var name in new[] { "a", "b", "c" })
            Assert.Equal(floats, file.Get(file.Tensors[name]).ToFloatArray());
        Assert.Equal([2L, 2L], file.Tensors["a"].Shape);
    }

    [Fact]
    public void TruncatedFile() =>
        Assert.Contains("truncated", Message(() => SafetensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8))));

    [Fact]
    public void TruncatedHeader() =>
        Assert.Contains("truncated", Message(() => SafetensorsFile.Open(WriteRaw("{}", 0, declaredLength: 4096))));

    [Fact]
    public void ImplausibleHeaderLength() =>
        Assert.Contains("header length", Message(() => SafetensorsFile.Open(WriteRaw("{}", 0, declaredLength: -5))));

    [Fact]
    public void ShorterThanTheLengthField()
    {
        string path = Path.Combine(_dir, "tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("truncated", Message(() => SafetensorsFile.Open(path)));
    }

    [Fact]
    public void HeaderNotJson() =>
        Assert.Contains("not valid JSON", Message(() => SafetensorsFile.Open(WriteRaw("{nope", 0))));

    [Fact]
    public void UnknownDtype() =>
        Assert.Contains("unsupported dtype F8_E5M2", Message(() => SafetensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4))));

    [Fact]
    public void ByteLengthMustMatchShape() =>
        Assert.Contains("expected 16", Message(() => SafetensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16))));

    [Fact]
    public void OverlappingTensors() =>
        Assert.Contains("overlap", Message(() => SafetensorsFile.Open(WriteRaw(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12))));

    [Fact]
    public void MissingDirectoryAndFiles()
    {
        Assert.Contains("model directory not found", Message(() => WeightStore.Open(Path.Combine(_dir, "nope"))));
        Assert.Contains("no model.safetensors", Message(() => WeightStore.Open(_dir)));
    }

    [Fact]
    public void ShardedCheckpointLoadsEveryShard()
    {
        using var store = WeightStore.Open(Fixtures.Model("tiny-bamba-bf16-sharded"));
        Assert.Equal(3, store.Tensors.Select(t => t.File).Distinct().Count());
        Assert.All(store.Tensors, t => Assert.Equal(DType.BF16, t.DType));
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        CopyModel("tiny-bamba-bf16-sharded");
        File.Delete(Path.Combine(_dir, "model-00002-of-00003.safetensors"));
        Assert.Contains("model-00002-of-00003.safetensors: file not found", Message(() => WeightStore.Open(_dir)));
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        CopyModel("tiny-bamba");
        RewriteWithout("model.layers.1.mamba.dt_bias", reshape: null);
        Assert.Contains("'model.layers.1.mamba.dt_bias' is missing", Message(() => BambaModel.Load(_dir).Dispose()));
    }

    [Fact]
    public void MisShapedTensorIsNamed()
    {
        CopyModel("tiny-bamba");
        RewriteWithout(null, reshape: "model.final_layernorm.weight");
        var message = Message(() => BambaModel.Load(_dir).Dispose());
        Assert.Contains("'model.final_layernorm.weight' has shape [32, 2], expected [64]", message);
    }

    private void CopyModel(string name)
    {
        foreach (var f in Directory.GetFiles(Fixtures.Model(name)))
            if (!Path.GetFileName(f).StartsWith("reference")) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
    }

    /// <summary>Rewrites model.safetensors dropping one tensor or giving one a wrong (same-size) shape.</summary>
    private void RewriteWithout(string? drop, string? reshape)
    {
        string path = Path.Combine(_dir, "model.safetensors");
        List<SafetensorsWriter.Entry> entries;
        using (var file = SafetensorsFile.Open(path))
            entries = file.Tensors.Values.Where(t => t.Name != drop).Select(t => new SafetensorsWriter.Entry(t.Name, t.DType,
                t.Name == reshape ? [t.ElementCount / 2, 2] : t.Shape, file.Get(t).Bytes.ToArray())).ToList();
        SafetensorsWriter.Write(path, entries);
    }
}

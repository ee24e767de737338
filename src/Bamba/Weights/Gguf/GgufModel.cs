using System.Runtime.InteropServices;
using Bamba.Configuration;
using Change = Bamba.Weights.Gguf.GraniteHybridNames.Change;

namespace Bamba.Weights.Gguf;

/// <summary>
/// A GGUF file opened as a Bamba model: its metadata as the typed config, its tensors under the HF names the model
/// code reads. Matrices stay memory-mapped in their stored type (quantized ones too); only the few tensors whose
/// layout differs are derived at load: Q/K rows re-ordered from GGML's interleaved RoPE pairs back to rotate-half,
/// and <c>A_log = log(−ssm_a)</c>.
/// </summary>
public sealed unsafe class GgufModel
{
    public required BambaConfig Config { get; init; }
    public required WeightStore Store { get; init; }
    public required GgufMetadata Metadata { get; init; }

    public static bool IsGgufPath(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(path);

    public static GgufModel Open(string path)
    {
        var file = GgufFile.Open(path);
        var owners = new List<IDisposable> { file };
        try
        {
            var metadata = new GgufMetadata(file.Metadata, path);
            var config = GraniteHybridConfig.FromMetadata(metadata, file.Tensors.ContainsKey, path);
            var tensors = file.TensorList.Select(t => ToHf(file, t, config, owners)).ToList();
            return new GgufModel { Config = config, Store = new WeightStore(tensors, owners), Metadata = metadata };
        }
        catch
        {
            foreach (var o in owners) o.Dispose();
            throw;
        }
    }

    private static WeightTensor ToHf(GgufFile file, TensorInfo t, BambaConfig c, List<IDisposable> owners)
    {
        var (name, change) = GraniteHybridNames.ToHf(t.Name)
            ?? throw new BambaException($"{file.Path}: tensor '{t.Name}' is not part of a {GraniteHybridNames.Architecture} Bamba model");
        var source = file.Get(t);
        return change switch
        {
            Change.None => new WeightTensor(t with { Name = name }, source.Data),
            Change.Reshape => new WeightTensor(t with { Name = name, Shape = HfShape(name, t.Shape) }, source.Data),
            Change.NegExp => ALog(file, source, name, owners),
            _ => RopeRows(file, source, name, c, owners),
        };
    }

    /// <summary>conv1d.weight [C, K] → [C, 1, K]; D [H, 1] → [H]; norm.weight [G, D/G] → [D].</summary>
    private static long[] HfShape(string hfName, long[] shape) =>
        hfName.EndsWith("conv1d.weight", StringComparison.Ordinal) && shape.Length == 2 ? [shape[0], 1, shape[1]]
            : [shape.Aggregate(1L, (a, b) => a * b)];

    private static WeightTensor ALog(GgufFile file, WeightTensor ssmA, string name, List<IDisposable> owners)
    {
        if (ssmA.DType.IsQuantized()) throw new BambaException($"{file.Path}: tensor '{ssmA.Info.Name}' must be a float type, not {ssmA.DType}");
        var a = ssmA.ToFloatArray();
        var buffer = Own(owners, 4L * a.Length);
        var aLog = MemoryMarshal.Cast<byte, float>(buffer.Span);
        for (int i = 0; i < a.Length; i++) aLog[i] = MathF.Log(-a[i]);
        return new WeightTensor(new TensorInfo(name, file.Path, DType.F32, [a.Length], 0, buffer.Length), buffer.Pointer);
    }

    /// <summary>A copy of a Q/K matrix (any stored type: whole rows move) with each head's rotated rows in rotate-half order.</summary>
    private static WeightTensor RopeRows(GgufFile file, WeightTensor w, string name, BambaConfig c, List<IDisposable> owners)
    {
        if (w.Shape.Length != 2) throw new BambaException($"{file.Path}: tensor '{w.Info.Name}' must be a matrix");
        int rows = checked((int)w.Shape[0]), headDim = c.HeadDim, rotary = c.RotaryDim;
        if (headDim == 0 || rows % headDim != 0) throw new BambaException($"{file.Path}: tensor '{w.Info.Name}' has {rows} rows, not whole heads of {headDim}");
        long rowBytes = w.Info.ByteLength / rows;
        var buffer = Own(owners, w.Info.ByteLength);
        for (int r = 0; r < rows; r++)
        {
            int hfRow = GraniteHybridNames.HfRowOfGgufRow(r, headDim, rotary);
            Buffer.MemoryCopy(w.Data + r * rowBytes, buffer.Pointer + hfRow * rowBytes, rowBytes, rowBytes);
        }
        return new WeightTensor(w.Info with { Name = name, Begin = 0, End = buffer.Length }, buffer.Pointer);
    }

    private static NativeBuffer Own(List<IDisposable> owners, long bytes)
    {
        var buffer = new NativeBuffer(bytes);
        owners.Add(buffer);
        return buffer;
    }
}

using System.Runtime.InteropServices;
using Bamba.Architectures;
using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// A GGUF file opened as a model: its metadata as the typed config, its tensors under the HF names the model code
/// reads (<see cref="GgufLayout"/>). Matrices stay memory-mapped in their stored type (quantized ones too), experts
/// stacked in one tensor are views of it; only tensors whose layout differs are derived at load: Q/K rows re-ordered
/// from GGML's interleaved RoPE pairs back to rotate-half, Granite's gate and up halves joined into the fused matrix
/// its checkpoints have, and <c>A_log = log(−ssm_a)</c>.
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
            var config = GgufConfigReader.Read(metadata, file.Tensors.ContainsKey, path);
            var tensors = ToHf(file, config, owners);
            return new GgufModel { Config = config, Store = new WeightStore(tensors, owners), Metadata = metadata };
        }
        catch
        {
            foreach (var o in owners) o.Dispose();
            throw;
        }
    }

    private static List<WeightTensor> ToHf(GgufFile file, BambaConfig c, List<IDisposable> owners)
    {
        var specs = ArchitectureRegistry.TensorsOf(c).All.ToDictionary(s => s.Name);
        var links = GgufLayout.Links(c);
        var known = links.Select(l => l.Gguf).ToHashSet();
        foreach (var t in file.TensorList)
            if (!known.Contains(t.Name))
                throw new BambaException($"{file.Path}: tensor '{t.Name}' is not part of this {GgufArchitecture.NameOf(c)} model");
        var tensors = new List<WeightTensor>();
        foreach (var link in links.Where(l => l.Kind != LinkKind.Rows))
        {
            var source = Source(file, link);
            if (link.Kind == LinkKind.NegExp) tensors.Add(ALog(file, source, link.Hf[0], owners));
            else if (link.Kind == LinkKind.Stack)
                tensors.AddRange(link.Hf.Select((name, e) => Renamed(source.At(e), specs[name])));
            else tensors.Add(Renamed(source, specs[link.Hf[0]]));
        }
        foreach (var parts in links.Where(l => l.Kind == LinkKind.Rows).GroupBy(l => l.Hf[0]))
            tensors.Add(Gather(file, parts.ToList(), specs[parts.Key], owners));
        return tensors;
    }

    /// <summary>The file's tensor for a link, checked against the shape the config gives it.</summary>
    private static WeightTensor Source(GgufFile file, GgufLink link)
    {
        if (!file.Tensors.TryGetValue(link.Gguf, out var info)) throw new BambaException($"{file.Path}: missing tensor '{link.Gguf}'");
        if (!info.Shape.SequenceEqual(link.Shape))
            throw new BambaException($"{file.Path}: tensor '{link.Gguf}' is {info.ShapeText}, expected [{string.Join(", ", link.Shape)}] for this config");
        return file.Get(info);
    }

    private static WeightTensor Renamed(WeightTensor t, TensorSpec spec) =>
        new(t.Info with { Name = spec.Name, Shape = spec.Shape }, t.Data);

    private static WeightTensor ALog(GgufFile file, WeightTensor ssmA, string name, List<IDisposable> owners)
    {
        if (ssmA.DType.IsQuantized()) throw new BambaException($"{file.Path}: tensor '{ssmA.Info.Name}' must be a float type, not {ssmA.DType}");
        var a = ssmA.ToFloatArray();
        var buffer = Own(owners, 4L * a.Length);
        var aLog = MemoryMarshal.Cast<byte, float>(buffer.Span);
        for (int i = 0; i < a.Length; i++) aLog[i] = MathF.Log(-a[i]);
        return new WeightTensor(new TensorInfo(name, file.Path, DType.F32, [a.Length], 0, buffer.Length), buffer.Pointer);
    }

    /// <summary>
    /// One HF tensor copied together from rows of the GGUF tensors that hold it (whole rows move, so any stored type
    /// works): re-ordered Q/K rows, or the gate and up halves of a fused matrix, which must share a type.
    /// </summary>
    private static WeightTensor Gather(GgufFile file, List<GgufLink> parts, TensorSpec spec, List<IDisposable> owners)
    {
        var sources = parts.Select(p => Source(file, p)).ToList();
        var dtype = sources[0].DType;
        if (sources.Any(s => s.DType != dtype))
            throw new BambaException($"{file.Path}: tensors {string.Join(" and ", parts.Select(p => $"'{p.Gguf}'"))} hold one matrix of the model and must share a type");
        long rowLength = spec.Shape[^1], rowBytes = dtype.ByteCount(rowLength);
        var buffer = Own(owners, rowBytes * (spec.Shape.Aggregate(1L, (a, b) => a * b) / rowLength));
        for (int i = 0; i < parts.Count; i++)
            for (long r = 0; r < parts[i].RowCount; r++)
                Buffer.MemoryCopy(sources[i].Data + r * rowBytes, buffer.Pointer + parts[i].SourceRow(r).Row * rowBytes, rowBytes, rowBytes);
        return new WeightTensor(new TensorInfo(spec.Name, file.Path, dtype, spec.Shape, 0, buffer.Length), buffer.Pointer);
    }

    private static NativeBuffer Own(List<IDisposable> owners, long bytes)
    {
        var buffer = new NativeBuffer(bytes);
        owners.Add(buffer);
        return buffer;
    }
}

using System.Runtime.InteropServices;
using Bamba.Configuration;
using Bamba.Numerics;
using Bamba.Weights.Quants;
using Change = Bamba.Weights.Gguf.GraniteHybridNames.Change;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Writes a Bamba model (config + tensors under HF names, any stored type) as a granitehybrid GGUF file of one
/// <see cref="GgufFileType"/>: llama.cpp's names, shapes and layouts, each tensor converted or quantized row by row.
/// </summary>
public static class GgufExport
{
    /// <summary>Rows converted per step: enough to share among cores, little memory.</summary>
    private const int FloatsPerStep = 1 << 20;

    public sealed record Plan(string HfName, GgufWriter.Tensor Tensor);

    public static IReadOnlyList<Plan> PlanTensors(BambaConfig c, WeightStore store, GgufFileType type)
    {
        int attentionLayers = c.NumAttentionLayers;
        var plans = new List<Plan>();
        foreach (var info in store.Tensors.OrderBy(t => Order(t.Name)))
        {
            if (info.Name == "lm_head.weight" && c.TieWordEmbeddings) continue;
            var (name, change) = GraniteHybridNames.ToGguf(info.Name)
                ?? throw new BambaException($"{info.File}: tensor '{info.Name}' has no GGUF name in a Bamba model");
            var shape = GgufShape(info.Name, info.Shape, change, c);
            int layer = Layer(name);
            var position = new TensorPosition(layer, c.NumHiddenLayers,
                Enumerable.Range(0, Math.Max(layer, 0)).Count(c.IsAttentionLayer), attentionLayers, c.TieWordEmbeddings);
            var dtype = type.TypeOf(name, shape, position);
            var source = store.Get(info.Name);
            plans.Add(new Plan(info.Name, new GgufWriter.Tensor(name, dtype, shape, s => WriteRows(s, source, change, shape, dtype, c))));
        }
        return plans;
    }

    public static void Write(string path, BambaConfig c, WeightStore store, GgufFileType type, string modelName,
        IEnumerable<KeyValuePair<string, GgufValue>> tokenizer, Action<int, int>? progress = null)
    {
        var plans = PlanTensors(c, store, type);
        var metadata = GraniteHybridConfig.ToMetadata(c, modelName, type).Concat(tokenizer);
        GgufWriter.Write(path, metadata, plans.Select(p => p.Tensor).ToList(), done => progress?.Invoke(done, plans.Count));
    }

    private static (int, int, string) Order(string hfName) =>
        hfName == "model.embed_tokens.weight" ? (0, 0, "")
        : hfName.StartsWith("model.layers.", StringComparison.Ordinal) && GraniteHybridNames.ToGguf(hfName) is { } g ? (1, Layer(g.Name), g.Name)
        : (2, 0, hfName);

    private static int Layer(string ggufName) =>
        ggufName.StartsWith("blk.", StringComparison.Ordinal) ? int.Parse(ggufName.AsSpan(4, ggufName.IndexOf('.', 4) - 4)) : -1;

    private static long[] GgufShape(string hfName, long[] shape, Change change, BambaConfig c) => change switch
    {
        Change.Reshape when hfName.EndsWith("conv1d.weight", StringComparison.Ordinal) => [shape[0], shape[^1]],
        Change.Reshape when hfName.EndsWith("norm.weight", StringComparison.Ordinal) => [c.MambaNGroups, shape[0] / c.MambaNGroups],
        Change.Reshape or Change.NegExp => [shape[0], 1],
        _ => shape,
    };

    /// <summary>Converts the source to <paramref name="dtype"/> a step of rows at a time, the rows of a step in parallel.</summary>
    private static void WriteRows(Stream s, WeightTensor source, Change change, long[] shape, DType dtype, BambaConfig c)
    {
        long rowLength = shape[^1];
        int rows = checked((int)(source.ElementCount / rowLength));
        int stepRows = (int)Math.Max(1, FloatsPerStep / rowLength);
        long rowBytes = dtype.ByteCount(rowLength);
        var floats = new float[stepRows * rowLength];
        var bytes = new byte[stepRows * rowBytes];
        for (int r0 = 0; r0 < rows; r0 += stepRows)
        {
            int n = Math.Min(stepRows, rows - r0);
            Parallel.For(0, n, i =>
            {
                var row = floats.AsSpan((int)(i * rowLength), (int)rowLength);
                ReadRow(source, change, r0 + i, row, c);
                Encode(dtype, row, bytes.AsSpan((int)(i * rowBytes), (int)rowBytes));
            });
            s.Write(bytes, 0, (int)(n * rowBytes));
        }
    }

    private static void ReadRow(WeightTensor source, Change change, int row, Span<float> values, BambaConfig c)
    {
        int sourceRow = change == Change.RopeRows ? GraniteHybridNames.HfRowOfGgufRow(row, c.HeadDim, c.RotaryDim) : row;
        source.ReadFloats((long)sourceRow * values.Length, values);
        if (change == Change.NegExp)
            for (int i = 0; i < values.Length; i++) values[i] = -MathF.Exp(values[i]);
    }

    /// <summary>Float values in any type bamba writes: F32, BF16, F16 or a block format.</summary>
    internal static void Encode(DType dtype, ReadOnlySpan<float> row, Span<byte> output)
    {
        switch (dtype)
        {
            case DType.F32: MemoryMarshal.AsBytes(row).CopyTo(output); break;
            case DType.BF16: BFloat16.FromSingle(row, MemoryMarshal.Cast<byte, ushort>(output)); break;
            case DType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(output);
                for (int i = 0; i < row.Length; i++) halves[i] = (Half)row[i];
                break;
            default: BlockCodec.Quantize(dtype, row, output); break;
        }
    }
}

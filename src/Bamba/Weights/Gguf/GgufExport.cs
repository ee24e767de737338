using System.Runtime.InteropServices;
using Bamba.Configuration;
using Bamba.Numerics;
using Bamba.Weights.Quants;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Writes a model (config + tensors under HF names, any stored type) as a GGUF file of one <see cref="GgufFileType"/>
/// in its llama.cpp architecture (<see cref="GgufArchitecture"/>): llama.cpp's names, shapes and layouts
/// (<see cref="GgufLayout"/>), each tensor converted or quantized row by row.
/// </summary>
public static class GgufExport
{
    /// <summary>Rows converted per step: enough to share among cores, little memory.</summary>
    private const int FloatsPerStep = 1 << 20;

    private static IReadOnlyList<GgufWriter.Tensor> PlanTensors(BambaConfig c, WeightStore store, GgufFileType type)
    {
        bool experts = c.HasMixtureOfExperts && c.NumExperts > 1;
        int attentionLayers = c.NumAttentionLayers, ffnDowns = 0;
        var tensors = new List<GgufWriter.Tensor>();
        foreach (var link in GgufLayout.Links(c))
        {
            int layer = Layer(link.Gguf);
            bool ffnDown = link.Gguf.Contains("ffn_down", StringComparison.Ordinal);
            var position = new TensorPosition(c.NumHiddenLayers, Enumerable.Range(0, Math.Max(layer, 0)).Count(c.IsAttentionLayer),
                attentionLayers, experts ? layer : ffnDowns, c.TieWordEmbeddings);
            if (ffnDown) ffnDowns++;
            var dtype = type.TypeOf(link.Gguf, link.Shape, position);
            var sources = link.Hf.Select(name => store.Get(name)).ToArray();
            tensors.Add(new GgufWriter.Tensor(link.Gguf, dtype, link.Shape, s => WriteRows(s, link, sources, dtype)));
        }
        return tensors;
    }

    public static void Write(string path, BambaConfig c, WeightStore store, GgufFileType type, string modelName,
        IEnumerable<KeyValuePair<string, GgufValue>> tokenizer, Action<int, int>? progress = null)
    {
        var tensors = PlanTensors(c, store, type);
        var metadata = GgufArchitecture.ToMetadata(c, modelName, type).Concat(tokenizer);
        GgufWriter.Write(path, metadata, tensors, done => progress?.Invoke(done, tensors.Count));
    }

    private static int Layer(string ggufName) =>
        ggufName.StartsWith("blk.", StringComparison.Ordinal) ? int.Parse(ggufName.AsSpan(4, ggufName.IndexOf('.', 4) - 4)) : -1;

    /// <summary>Converts the source rows to <paramref name="dtype"/> a step of rows at a time, the rows of a step in parallel.</summary>
    private static void WriteRows(Stream s, GgufLink link, WeightTensor[] sources, DType dtype)
    {
        long rowLength = link.Shape[^1];
        int rows = checked((int)link.RowCount);
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
                var (source, sourceRow) = link.SourceRow(r0 + i);
                sources[source].ReadFloats(sourceRow * rowLength, row);
                if (link.Kind == LinkKind.NegExp)
                    for (int j = 0; j < row.Length; j++) row[j] = -MathF.Exp(row[j]);
                Encode(dtype, row, bytes.AsSpan((int)(i * rowBytes), (int)rowBytes));
            });
            s.Write(bytes, 0, (int)(n * rowBytes));
        }
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

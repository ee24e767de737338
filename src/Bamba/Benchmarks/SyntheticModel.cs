using Bamba.Configuration;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Benchmarks;

/// <summary>
/// Writes a Bamba checkpoint with random weights (config.json + model.safetensors) for benchmarks: the real loading
/// path, the real shapes, no download. Matrices uniform with standard deviation initializer_range, norms 1, A_log = log(1..H) as at init.
/// </summary>
public static class SyntheticModel
{
    /// <summary>A ~0.5 B-parameter hybrid, larger than any CPU cache: the CPU decode benchmark's default.</summary>
    public static BambaConfig Cpu05B => new()
    {
        VocabSize = 32000, HiddenSize = 1024, IntermediateSize = 4096, NumHiddenLayers = 24,
        NumAttentionHeads = 16, NumKeyValueHeads = 4, AttnLayerIndices = [5, 11, 17, 23],
        MambaNHeads = 32, MambaDHead = 64, MambaDState = 128, MambaChunkSize = 256, Dtype = "bfloat16",
        MaxPositionEmbeddings = 4096,
    };

    public static void Write(BambaConfig c, string directory, DType dtype, int seed = 1234)
    {
        Directory.CreateDirectory(directory);
        BambaConfigWriter.Save(c, Path.Combine(directory, "config.json"));
        var random = new Random(seed);
        var entries = Shapes(c).Select(s => new SafetensorsWriter.Entry(s.Name, dtype, s.Shape, Values(s, dtype, random, c))).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), entries);
    }

    private static IEnumerable<(string Name, long[] Shape, string Kind)> Shapes(BambaConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, inter = c.IntermediateSize;
        yield return ("model.embed_tokens.weight", [v, h], "matrix");
        if (!c.TieWordEmbeddings) yield return ("lm_head.weight", [v, h], "matrix");
        yield return ("model.final_layernorm.weight", [h], "ones");
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return (p + "input_layernorm.weight", [h], "ones");
            yield return (p + "pre_ff_layernorm.weight", [h], "ones");
            yield return (p + "feed_forward.gate_proj.weight", [inter, h], "matrix");
            yield return (p + "feed_forward.up_proj.weight", [inter, h], "matrix");
            yield return (p + "feed_forward.down_proj.weight", [h, inter], "matrix");
            foreach (var t in c.IsAttentionLayer(i) ? AttentionShapes(c, p + "self_attn.") : MambaShapes(c, p + "mamba.")) yield return t;
        }
    }

    private static IEnumerable<(string, long[], string)> AttentionShapes(BambaConfig c, string p)
    {
        long h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        yield return (p + "q_proj.weight", [q, h], "matrix");
        yield return (p + "k_proj.weight", [kv, h], "matrix");
        yield return (p + "v_proj.weight", [kv, h], "matrix");
        yield return (p + "o_proj.weight", [h, q], "matrix");
    }

    private static IEnumerable<(string, long[], string)> MambaShapes(BambaConfig c, string p)
    {
        long h = c.HiddenSize, heads = c.MambaNHeads;
        yield return (p + "in_proj.weight", [c.InProjDim, h], "matrix");
        yield return (p + "conv1d.weight", [c.ConvDim, 1, c.MambaDConv], "conv");
        if (c.MambaConvBias) yield return (p + "conv1d.bias", [c.ConvDim], "zeros");
        yield return (p + "dt_bias", [heads], "ones");
        yield return (p + "A_log", [heads], "alog");
        yield return (p + "D", [heads], "ones");
        yield return (p + "norm.weight", [c.MambaIntermediate], "ones");
        yield return (p + "out_proj.weight", [h, c.MambaIntermediate], "matrix");
    }

    private static byte[] Values((string Name, long[] Shape, string Kind) s, DType dtype, Random random, BambaConfig c)
    {
        int n = checked((int)s.Shape.Aggregate(1L, (a, b) => a * b));
        var values = new float[n];
        float std = (float)c.InitializerRange;
        for (int i = 0; i < n; i++)
            values[i] = s.Kind switch
            {
                "ones" => 1f,
                "zeros" => 0f,
                "alog" => MathF.Log(i + 1),
                "conv" => (random.NextSingle() * 2 - 1) * 0.5f,
                _ => (random.NextSingle() * 2 - 1) * std * 1.7320508f, // uniform with standard deviation std

            };
        return Encode(values, dtype);
    }

    private static byte[] Encode(float[] values, DType dtype)
    {
        var bytes = new byte[values.Length * dtype.Size()];
        switch (dtype)
        {
            case DType.F32:
                Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
                break;
            case DType.BF16:
                BFloat16.FromSingle(values, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
                break;
            default:
                throw new ArgumentException($"synthetic weights in {dtype} are not supported");
        }
        return bytes;
    }
}

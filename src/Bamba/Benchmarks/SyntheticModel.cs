using Bamba.Configuration;
using Bamba.Modeling;
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

    /// <summary>Bamba-9B's shapes: 32 layers, attention at 9/18/27, Mamba 128 heads × 64, state 128, vocab 128256.</summary>
    public static BambaConfig Bamba9B => new()
    {
        VocabSize = 128256, HiddenSize = 4096, IntermediateSize = 14336, NumHiddenLayers = 32,
        NumAttentionHeads = 32, NumKeyValueHeads = 8, AttnLayerIndices = [9, 18, 27],
        MambaNHeads = 128, MambaDHead = 64, MambaDState = 128, MambaChunkSize = 256, Dtype = "bfloat16",
        MaxPositionEmbeddings = 262144,
    };

    /// <summary>Bamba-9B's dimensions with attention in every layer: a Llama-3.1-8B-sized transformer in the same engine.</summary>
    public static BambaConfig Transformer8B => Bamba9B with { AttnLayerIndices = [.. Enumerable.Range(0, 32)] };

    /// <summary>The named shape presets of <c>bamba bench --preset</c>.</summary>
    public static BambaConfig Preset(string name) => name switch
    {
        "cpu-0.5b" => Cpu05B,
        "bamba-9b" => Bamba9B,
        "transformer-8b" => Transformer8B,
        _ => throw new BambaException($"unknown preset '{name}' (cpu-0.5b, bamba-9b, transformer-8b)"),
    };

    public static readonly string[] PresetNames = ["cpu-0.5b", "bamba-9b", "transformer-8b"];

    /// <summary>
    /// The model's weights without a file, for a device that fills them itself: every vector as <see cref="Write"/>
    /// makes it, every matrix a data-less placeholder (<see cref="WeightTensor.IsPlaceholder"/>) of the stated shape.
    /// </summary>
    public static ModelWeights Placeholders(BambaConfig c)
    {
        var random = new Random(1234);
        var tensors = Shapes(c).ToDictionary(s => s.Name, s => s);
        WeightTensor Matrix(string name) => WeightTensor.Placeholder(name, tensors[name].Shape);
        float[] Vector(string name)
        {
            if (!tensors.TryGetValue(name, out var s)) return [];
            var bytes = Values(s, DType.F32, random, c);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        }
        return new ModelWeights
        {
            Embedding = Matrix("model.embed_tokens.weight"),
            LmHead = Matrix(c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"),
            FinalNorm = Vector("model.final_layernorm.weight"),
            Layers = [.. Enumerable.Range(0, c.NumHiddenLayers).Select(i => PlaceholderLayer(c, i, Matrix, Vector))],
        };
    }

    private static LayerWeights PlaceholderLayer(BambaConfig c, int i, Func<string, WeightTensor> matrix, Func<string, float[]> vector)
    {
        string p = $"model.layers.{i}.", m = p + "mamba.", a = p + "self_attn.";
        return new LayerWeights
        {
            InputNorm = vector(p + "input_layernorm.weight"),
            PreFeedForwardNorm = vector(p + "pre_ff_layernorm.weight"),
            Mlp = new MlpWeights
            {
                Gate = matrix(p + "feed_forward.gate_proj.weight"),
                Up = matrix(p + "feed_forward.up_proj.weight"),
                Down = matrix(p + "feed_forward.down_proj.weight"),
            },
            Attention = c.IsAttentionLayer(i)
                ? new AttentionWeights { Q = matrix(a + "q_proj.weight"), K = matrix(a + "k_proj.weight"), V = matrix(a + "v_proj.weight"), O = matrix(a + "o_proj.weight") }
                : null,
            Mamba = c.IsAttentionLayer(i) ? null : new MambaWeights
            {
                InProj = matrix(m + "in_proj.weight"),
                InProjBias = [],
                ConvWeight = vector(m + "conv1d.weight"),
                ConvBias = vector(m + "conv1d.bias"),
                DtBias = vector(m + "dt_bias"),
                A = vector(m + "A_log").Select(x => -MathF.Exp(x)).ToArray(),
                D = vector(m + "D"),
                Norm = vector(m + "norm.weight"),
                OutProj = matrix(m + "out_proj.weight"),
                OutProjBias = [],
            },
        };
    }

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

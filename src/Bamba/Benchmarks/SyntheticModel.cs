using Bamba.Architectures;
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
        return ModelWeights.Load(c, spec =>
        {
            if (Kind(spec) == "matrix") return WeightTensor.Placeholder(spec.Name, spec.Shape);
            var bytes = Values(spec, DType.F32, random, c);
            var info = new TensorInfo(spec.Name, "(synthetic)", DType.F32, spec.Shape, 0, bytes.Length);
            return FromBytes(info, bytes);
        });
    }

    /// <summary>A small vector's bytes as a tensor: pinned for the life of the process, as synthetic models are.</summary>
    private static unsafe WeightTensor FromBytes(TensorInfo info, byte[] bytes)
    {
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(bytes, System.Runtime.InteropServices.GCHandleType.Pinned);
        return new WeightTensor(info, (byte*)handle.AddrOfPinnedObject());
    }

    public static void Write(BambaConfig c, string directory, DType dtype, int seed = 1234)
    {
        Directory.CreateDirectory(directory);
        BambaConfigWriter.Save(c, Path.Combine(directory, "config.json"));
        var random = new Random(seed);
        var entries = ArchitectureRegistry.For(c).Tensors(c)
            .Select(s => new SafetensorsWriter.Entry(s.Name, dtype, s.Shape, Values(s, dtype, random, c))).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), entries);
    }

    /// <summary>How a tensor starts, as transformers initialises it: matrices random, norms, D and dt_bias 1, biases 0.</summary>
    private static string Kind(TensorSpec s) => s.Role switch
    {
        TensorRole.MixerNorm or TensorRole.FeedForwardNorm or TensorRole.FinalNorm or TensorRole.MambaNorm
            or TensorRole.MambaDtBias or TensorRole.MambaD => "ones",
        TensorRole.MambaConvBias or TensorRole.MambaInProjBias or TensorRole.MambaOutProjBias or TensorRole.RouterBias => "zeros",
        TensorRole.MambaALog => "alog",
        TensorRole.MambaConv => "conv",
        _ => "matrix",
    };

    private static byte[] Values(TensorSpec s, DType dtype, Random random, BambaConfig c)
    {
        int n = checked((int)s.Shape.Aggregate(1L, (a, b) => a * b));
        var values = new float[n];
        float std = (float)c.InitializerRange;
        string kind = Kind(s);
        for (int i = 0; i < n; i++)
            values[i] = kind switch
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

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

    /// <summary>
    /// Granite 4.0 H Tiny's shapes (7 B parameters, 1 B active): 40 layers with attention (NoPE) at 5/15/25/35, 64
    /// experts of width 512 (6 per token) beside a shared 1024-wide MLP in every layer, Mamba 48 heads × 64, vocab
    /// 100352, tied embeddings. Read through the Granite architecture, as its config.json would be. The multipliers
    /// (Granite 4.0's usual values) change no shape and no speed.
    /// </summary>
    public static BambaConfig GraniteTiny => BambaConfigReader.Parse("""
        {
          "model_type": "granitemoehybrid", "hidden_size": 1536, "num_hidden_layers": 40, "vocab_size": 100352,
          "num_attention_heads": 12, "num_key_value_heads": 4, "position_embedding_type": null,
          "intermediate_size": 512, "shared_intermediate_size": 1024, "num_local_experts": 64, "num_experts_per_tok": 6,
          "mamba_n_heads": 48, "mamba_d_head": 64, "mamba_d_state": 128, "mamba_n_groups": 1, "mamba_d_conv": 4,
          "mamba_expand": 2, "mamba_chunk_size": 256, "mamba_conv_bias": true, "mamba_proj_bias": false,
          "embedding_multiplier": 12.0, "residual_multiplier": 0.22, "attention_multiplier": 0.0078125, "logits_scaling": 6.0,
          "tie_word_embeddings": true, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "dtype": "bfloat16",
          "layer_types": [LAYERS]
        }
        """.Replace("LAYERS", GraniteLayerTypes(40)),
        "the granite-4.0-h-tiny preset");

    /// <summary>
    /// Granite 4.0 H Small's shapes (32 B parameters, 9 B active): 40 layers with attention (NoPE) at 5/15/25/35, 72
    /// experts of width 768 (10 per token) beside a shared 1536-wide MLP in every layer, Mamba 128 heads × 64, vocab
    /// 100352, tied embeddings, from its public config.json.
    /// </summary>
    public static BambaConfig GraniteSmall => BambaConfigReader.Parse("""
        {
          "model_type": "granitemoehybrid", "hidden_size": 4096, "num_hidden_layers": 40, "vocab_size": 100352,
          "num_attention_heads": 32, "num_key_value_heads": 8, "position_embedding_type": null,
          "intermediate_size": 768, "shared_intermediate_size": 1536, "num_local_experts": 72, "num_experts_per_tok": 10,
          "mamba_n_heads": 128, "mamba_d_head": 64, "mamba_d_state": 128, "mamba_n_groups": 1, "mamba_d_conv": 4,
          "mamba_expand": 2, "mamba_chunk_size": 256, "mamba_conv_bias": true, "mamba_proj_bias": false,
          "embedding_multiplier": 12.0, "residual_multiplier": 0.22, "attention_multiplier": 0.0078125, "logits_scaling": 16.0,
          "tie_word_embeddings": true, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "dtype": "bfloat16",
          "layer_types": [LAYERS]
        }
        """.Replace("LAYERS", GraniteLayerTypes(40)),
        "the granite-4.0-h-small preset");

    /// <summary>
    /// NVIDIA-Nemotron-Nano-9B-v2's shapes (8.9 B parameters, no experts): 56 layers of one mixer or MLP each, 27
    /// Mamba-2 (128 heads × 80, 8 groups, state 128), 4 attention (40 heads, 8 KV heads of 128) and 25 squared-ReLU
    /// MLPs of width 15680; hidden 4480, vocab 131072, a separate LM head; from its public config.json.
    /// </summary>
    public static BambaConfig NemotronH9B => BambaConfigReader.Parse("""
        {
          "model_type": "nemotron_h", "hidden_size": 4480, "num_hidden_layers": 56, "vocab_size": 131072,
          "intermediate_size": 15680, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
          "hybrid_override_pattern": "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-",
          "mamba_num_heads": 128, "mamba_head_dim": 80, "n_groups": 8, "ssm_state_size": 128, "conv_kernel": 4,
          "chunk_size": 128, "expand": 2, "use_conv_bias": true, "use_bias": false, "mlp_hidden_act": "relu2",
          "tie_word_embeddings": false, "max_position_embeddings": 131072, "layer_norm_epsilon": 1e-05, "dtype": "bfloat16"
        }
        """, "the nemotron-h-9b preset");

    /// <summary>Granite 4.0 H's <c>layer_types</c> for its MoE sizes: attention at layers 5, 15, 25, ..., Mamba-2 elsewhere.</summary>
    private static string GraniteLayerTypes(int layers) =>
        string.Join(", ", Enumerable.Range(0, layers).Select(i => i % 10 == 5 ? "\"attention\"" : "\"mamba\""));

    /// <summary>The named shape presets of <c>bamba bench --preset</c>.</summary>
    public static BambaConfig Preset(string name) => name switch
    {
        "cpu-0.5b" => Cpu05B,
        "bamba-9b" => Bamba9B,
        "transformer-8b" => Transformer8B,
        "granite-4.0-h-tiny" => GraniteTiny,
        "granite-4.0-h-small" => GraniteSmall,
        "nemotron-h-9b" => NemotronH9B,
        _ => throw new BambaException($"unknown preset '{name}' ({string.Join(", ", PresetNames)})"),
    };

    public static readonly string[] PresetNames = ["cpu-0.5b", "bamba-9b", "transformer-8b", "granite-4.0-h-tiny", "granite-4.0-h-small", "nemotron-h-9b"];

    /// <summary>
    /// The model's weights without a file, for a device that fills them itself: every vector as <see cref="Write"/>
    /// makes it, every matrix a data-less placeholder (<see cref="WeightTensor.IsPlaceholder"/>) of the stated shape.
    /// </summary>
    public static ModelWeights Placeholders(BambaConfig c) => Placeholders(c, DType.BF16);

    /// <summary>
    /// The same, with every matrix but the embedding and the router stored as <paramref name="weights"/> (a quantized
    /// benchmark model); for FP8 the LM head stays bf16 too, as compressed-tensors checkpoints ignore it. An FP8 row's
    /// scale gives its random E4M3 values the bf16 placeholders' spread of 0.02 (<see cref="Fp8RowScale"/>).
    /// </summary>
    public static ModelWeights Placeholders(BambaConfig c, DType weights)
    {
        var random = new Random(1234);
        return ModelWeights.Load(c, spec =>
        {
            if (Kind(spec) == "matrix") return Matrix(spec, weights);
            var bytes = Values(spec, DType.F32, random, c);
            var info = new TensorInfo(spec.Name, "(synthetic)", DType.F32, spec.Shape, 0, bytes.Length);
            return FromBytes(info, bytes);
        });
    }

    private static WeightTensor Matrix(TensorSpec spec, DType weights)
    {
        bool plain = weights == DType.BF16 || spec.Role is TensorRole.Embedding or TensorRole.Router
            || (weights == DType.F8_E4M3 && spec.Role == TensorRole.LmHead);
        if (plain) return WeightTensor.Placeholder(spec.Name, spec.Shape);
        var tensor = WeightTensor.Placeholder(spec.Name, spec.Shape, weights);
        if (weights != DType.F8_E4M3) return tensor;
        long rows = tensor.ElementCount / spec.Shape[^1];
        return tensor.WithRowScales(Enumerable.Repeat(Fp8RowScale, checked((int)rows)).ToArray());
    }

    /// <summary>A synthetic FP8 row's scale: its random E4M3 values (|v| &lt; 2, standard deviation 0.6) times it have a spread of 0.02.</summary>
    public const float Fp8RowScale = 0.02f / 0.6f;

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

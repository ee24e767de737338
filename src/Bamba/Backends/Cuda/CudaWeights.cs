using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// The model's weights on the GPU. Matrices go up in their stored dtype, straight from the memory-mapped file, and
/// are converted on the device to the activation type (no float32 copy on the host); q|k|v and gate|up are stacked
/// into one matrix each so one GEMM computes them; each expert's matrices are their own. Small vectors (norms, biases, conv taps, A, D) are float32.
/// </summary>
internal sealed class CudaWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public CudaWeights(CudaOps ops, ModelWeights w, BambaConfig c)
    {
        Embedding = Matrix(ops, w.Embedding);
        LmHead = c.TieWordEmbeddings ? Embedding : Matrix(ops, w.LmHead);
        // Granite divides the logits by logits_scaling; the LM head is linear, so the final norm's weight carries it.
        FinalNorm = Vector(ops, c.LogitsScaling == 1 ? w.FinalNorm : w.FinalNorm.Select(v => (float)(v / c.LogitsScaling)).ToArray());
        Layers = w.Layers.Select(l => new Layer
        {
            MixerNorm = Vector(ops, l.MixerNorm ?? []),
            FeedForwardNorm = Vector(ops, l.FeedForwardNorm ?? []),
            Mlp = l.Mlp is { } mlp ? Dense(ops, mlp) : null,
            Experts = l.Experts is { } e ? new Experts
            {
                Router = MatrixF32(ops, e.Router),
                RouterBias = e.RouterBias,
                Each = e.Experts.Select(x => Dense(ops, x)).ToArray(),
            } : null,
            Mamba = l.Mamba is { } m ? new Mamba
            {
                InProj = Matrix(ops, m.InProj),
                InProjBias = Vector(ops, m.InProjBias),
                ConvWeight = Vector(ops, m.ConvWeight),
                ConvBias = Vector(ops, m.ConvBias),
                DtBias = Vector(ops, m.DtBias),
                A = Vector(ops, m.A),
                D = Vector(ops, m.D),
                Norm = Vector(ops, m.Norm),
                OutProj = Matrix(ops, m.OutProj),
                OutProjBias = Vector(ops, m.OutProjBias),
                InProjLora = LowRank(ops, (m.InProjDelta, m.InProj)),
                OutProjLora = LowRank(ops, (m.OutProjDelta, m.OutProj)),
            } : null,
            Attention = l.Attention is { } a ? new Attention
            {
                Qkv = Matrix(ops, a.Q, a.K, a.V), O = Matrix(ops, a.O),
                QkvLora = LowRank(ops, (a.QDelta, a.Q), (a.KDelta, a.K), (a.VDelta, a.V)), OLora = LowRank(ops, (a.ODelta, a.O)),
            } : null,
        }).ToArray();
        ops.Device.Synchronize();
        _staging?.Dispose();
        _staging = null;
    }

    public ulong Embedding { get; }
    public ulong LmHead { get; }
    public ulong FinalNorm { get; }
    public Layer[] Layers { get; }
    public long Bytes => _owned.Sum(b => b.Bytes);

    /// <summary>A layer's parts; a norm is 0 where its sublayer is absent.</summary>
    public sealed class Layer
    {
        public ulong MixerNorm, FeedForwardNorm;
        public Mamba? Mamba;
        public Attention? Attention;
        /// <summary>The dense MLP, or the shared expert beside <see cref="Experts"/>.</summary>
        public Mlp? Mlp;
        public Experts? Experts;
    }

    /// <summary>A SwiGLU MLP (gate|up stacked in <see cref="Up"/>, <see cref="Gated"/>) or a squared-ReLU one (up only).</summary>
    public sealed class Mlp
    {
        public ulong Up, Down;
        /// <summary>LoRA adapters beside <see cref="Up"/> (gate|up stacked as it is) and <see cref="Down"/>, or null.</summary>
        public CudaLowRank? UpLora, DownLora;
        public bool Gated;
        /// <summary>The hidden width: the dense MLP's, an expert's or the shared expert's (they differ in Granite and Nemotron-H).</summary>
        public int Width;
    }

    /// <summary>
    /// Routed experts: the router's matrix on the device in float32 (as transformers' and vLLM's Nemotron-H routers
    /// compute, so that bf16 rounding does not change which experts a token gets), its correction bias on the host
    /// (the top-k runs there).
    /// </summary>
    public sealed class Experts
    {
        public ulong Router;
        public required float[] RouterBias;
        public required Mlp[] Each;
    }

    public sealed class Mamba
    {
        public ulong InProj, InProjBias, ConvWeight, ConvBias, DtBias, A, D, Norm, OutProj, OutProjBias;
        public CudaLowRank? InProjLora, OutProjLora;
    }

    public sealed class Attention
    {
        public ulong Qkv, O;
        /// <summary>LoRA adapters beside q|k|v (any of the three) and o, or null.</summary>
        public CudaLowRank? QkvLora, OLora;
    }

    private DeviceBuffer? _staging;

    /// <summary>Uniform in ±0.02·√3: standard deviation 0.02, the config's initializer_range default.</summary>
    private const float PlaceholderScale = 0.0346410162f;

    /// <summary>The parts stacked by rows into one activation-typed matrix.</summary>
    private ulong Matrix(CudaOps ops, params WeightTensor[] parts) =>
        Matrix(ops, ops.Precision == CudaPrecision.BFloat16 ? DType.BF16 : DType.F32, parts);

    /// <summary>A float32 matrix whatever the precision.</summary>
    private ulong MatrixF32(CudaOps ops, WeightTensor part) => Matrix(ops, DType.F32, part);

    private unsafe ulong Matrix(CudaOps ops, DType actType, params WeightTensor[] parts)
    {
        int bytes = actType.Size();
        long cols = parts[0].Shape[^1], rows = parts.Sum(p => p.ElementCount / cols);
        var target = ops.Device.Allocate(rows * cols * bytes);
        _owned.Add(target);
        long offset = 0;
        foreach (var part in parts)
        {
            ulong dst = target.Pointer + (ulong)(offset * bytes);
            ulong seed = (ulong)_owned.Count * 7919 + (ulong)offset;
            if (part.IsPlaceholder && actType == DType.F32 && ops.Precision != CudaPrecision.Float32)
            {
                // A synthetic float32 matrix in a bf16 model (the router): made in bf16, then widened.
                ulong staging = Staging(ops, part.ElementCount * 2);
                ops.FillUniform(staging, part.ElementCount, seed, PlaceholderScale);
                ops.ConvertToF32(staging, DType.BF16, dst, part.ElementCount);
            }
            else if (part.IsPlaceholder)
                ops.FillUniform(dst, part.ElementCount, seed, PlaceholderScale);
            else if (part.DType == actType)
                ops.Device.CopyFromHost(dst, part.Data, part.Info.ByteLength);
            else
            {
                ulong staging = Staging(ops, part.Info.ByteLength);
                ops.Device.CopyFromHost(staging, part.Data, part.Info.ByteLength);
                if (actType == DType.F32) ops.ConvertToF32(staging, part.DType, dst, part.ElementCount);
                else ops.ConvertToAct(staging, part.DType, dst, part.ElementCount);
            }
            offset += part.ElementCount;
        }
        return target.Pointer;
    }

    /// <summary>A device buffer of at least <paramref name="bytes"/> for a stored tensor on its way to its converted copy.</summary>
    private ulong Staging(CudaOps ops, long bytes)
    {
        if (_staging is null || _staging.Bytes < bytes)
        {
            ops.Device.Synchronize(); // the old staging buffer may still feed a queued conversion
            _staging?.Dispose();
            _staging = ops.Device.Allocate(bytes);
        }
        return _staging.Pointer;
    }

    private Mlp Dense(CudaOps ops, MlpWeights m) => m.Gate is { } gate
        ? new Mlp
        {
            Up = Matrix(ops, gate, m.Up), Down = Matrix(ops, m.Down), Gated = true, Width = checked((int)m.Up.Shape[0]),
            UpLora = LowRank(ops, (m.GateDelta, gate), (m.UpDelta, m.Up)), DownLora = LowRank(ops, (m.DownDelta, m.Down)),
        }
        : new Mlp
        {
            Up = Matrix(ops, m.Up), Down = Matrix(ops, m.Down), Width = checked((int)m.Up.Shape[0]),
            UpLora = LowRank(ops, (m.UpDelta, m.Up)), DownLora = LowRank(ops, (m.DownDelta, m.Down)),
        };

    /// <summary>The LoRA adapters beside a matrix stacked from <paramref name="parts"/>, or null when none has one.</summary>
    private CudaLowRank? LowRank(CudaOps ops, params (LowRankDelta? Delta, WeightTensor Part)[] parts) =>
        CudaLowRank.Stack(ops, _owned, parts.Select(p => (p.Delta, checked((int)(p.Part.ElementCount / p.Part.Shape[^1])))).ToArray());

    /// <summary>A float32 vector; an empty one (an absent bias) is the null pointer, which the kernels skip.</summary>
    private ulong Vector(CudaOps ops, float[] values)
    {
        if (values.Length == 0) return 0;
        var buffer = ops.Device.Upload<float>(values);
        _owned.Add(buffer);
        return buffer.Pointer;
    }

    public void Dispose()
    {
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
        _staging?.Dispose();
    }
}

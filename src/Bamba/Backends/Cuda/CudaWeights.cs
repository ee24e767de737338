using Bamba.Backends;
using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// The model's weights on the GPU. Matrices go up in their stored dtype, straight from the memory-mapped file: a
/// quantized matrix (GGUF blocks, FP8 with its row scales) stays in its bytes and is decoded by the kernels that read
/// it; any other is converted on the device to the activation type (no float32 copy on the host). q|k|v and gate|up
/// are stacked into one matrix each so one product computes them (quantized only when their parts share a format);
/// each expert's matrices are their own. Small vectors (norms, biases, conv taps, A, D) are float32.
/// </summary>
internal sealed class CudaWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    /// <param name="progress">Told the stored bytes uploaded so far after each matrix, of <paramref name="totalBytes"/>.</param>
    public CudaWeights(CudaOps ops, ModelWeights w, BambaConfig c, IProgress<ModelLoadProgress>? progress = null, long totalBytes = 0)
    {
        _progress = progress;
        _totalBytes = totalBytes;
        // The embedding is read by rows, not multiplied: always the activation type.
        Embedding = Plain(ops, ops.ActType, w.Embedding);
        LmHead = c.TieWordEmbeddings ? Embedding : Matrix(ops, w.LmHead);
        // Granite divides the logits by logits_scaling; the LM head is linear, so the final norm's weight carries it.
        FinalNorm = Vector(ops, c.LogitsScaling == 1 ? w.FinalNorm : w.FinalNorm.Select(v => (float)(v / c.LogitsScaling)).ToArray());
        Layers = w.Layers.Select(l => new Layer
        {
            MixerNorm = Vector(ops, l.MixerNorm ?? []),
            FeedForwardNorm = Vector(ops, l.FeedForwardNorm ?? []),
            Mlp = l.Mlp is { } mlp ? Dense(ops, mlp) : null,
            Experts = l.Experts is { } e ? RoutedExperts(ops, c, e) : null,
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
        progress?.Report(new(totalBytes, totalBytes));
    }

    private readonly IProgress<ModelLoadProgress>? _progress;
    private readonly long _totalBytes;
    private long _uploadedBytes;

    /// <summary>Counts a stored tensor as uploaded (its conversion may still be queued on the stream).</summary>
    private void Uploaded(WeightTensor part)
    {
        _uploadedBytes += part.Info.ByteLength;
        _progress?.Report(new(Math.Min(_uploadedBytes, _totalBytes), _totalBytes));
    }

    public DeviceMatrix Embedding { get; }
    public DeviceMatrix LmHead { get; }
    public ulong FinalNorm { get; }
    public Layer[] Layers { get; }
    public long Bytes => _owned.Sum(b => b.Bytes);
    /// <summary>The bytes of every routed expert's matrices (a token reads k of E of them).</summary>
    public long ExpertBytes => Layers.Sum(l => l.Experts?.Each.Sum(m => m.Up.Bytes + m.Down.Bytes) ?? 0);

    /// <summary>The activation-typed bytes of the largest quantized matrix: the scratch a prefill product dequantizes it into.</summary>
    public long LargestDequantizedBytes { get; private set; }

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
        public DeviceMatrix Up, Down;
        /// <summary>LoRA adapters beside <see cref="Up"/> (gate|up stacked as it is) and <see cref="Down"/>, or null.</summary>
        public CudaLowRank? UpLora, DownLora;
        public bool Gated;
        /// <summary>The hidden width: the dense MLP's, an expert's or the shared expert's (they differ in Granite and Nemotron-H).</summary>
        public int Width;
    }

    /// <summary>
    /// Routed experts: the router's matrix on the device in float32 (as transformers' and vLLM's Nemotron-H routers
    /// compute, so that bf16 rounding does not change which experts a token gets), its correction bias on the host and
    /// on the device (0 for none). <see cref="Tables"/> is set when the experts route and run on the device; quantized
    /// experts (whose GEMVs read their own formats) leave it null and take the host's routing.
    /// </summary>
    public sealed class Experts
    {
        public DeviceMatrix Router;
        public required float[] RouterBias;
        public ulong RouterBiasOnDevice;
        public required Mlp[] Each;
        public CudaOps.ExpertTables? Tables;
    }

    private Experts RoutedExperts(CudaOps ops, BambaConfig c, ExpertWeights e)
    {
        var experts = new Experts
        {
            Router = Plain(ops, DType.F32, e.Router),
            RouterBias = e.RouterBias,
            RouterBiasOnDevice = Vector(ops, e.RouterBias),
            Each = e.Experts.Select(x => Dense(ops, x)).ToArray(),
        };
        var each = experts.Each;
        if (!CudaOps.RoutesOnDevice(c) || each.Any(m => m.Up.IsQuantized || m.Down.IsQuantized || m.UpLora is not null || m.DownLora is not null))
            return experts;
        experts.Tables = new CudaOps.ExpertTables(Pointers(ops, each.Select(m => m.Up.Data)), Pointers(ops, each.Select(m => m.Down.Data)),
            each[0].Width, each[0].Gated);
        return experts;
    }

    private ulong Pointers(CudaOps ops, IEnumerable<ulong> pointers)
    {
        var buffer = ops.Device.Upload<ulong>(pointers.ToArray());
        _owned.Add(buffer);
        return buffer.Pointer;
    }

    public sealed class Mamba
    {
        public DeviceMatrix InProj, OutProj;
        public ulong InProjBias, ConvWeight, ConvBias, DtBias, A, D, Norm, OutProjBias;
        public CudaLowRank? InProjLora, OutProjLora;
    }

    public sealed class Attention
    {
        public DeviceMatrix Qkv, O;
        /// <summary>LoRA adapters beside q|k|v (any of the three) and o, or null.</summary>
        public CudaLowRank? QkvLora, OLora;
    }

    private DeviceBuffer? _staging;

    /// <summary>Uniform in ±0.02·√3: standard deviation 0.02, the config's initializer_range default.</summary>
    private const float PlaceholderScale = 0.0346410162f;

    /// <summary>
    /// The parts stacked by rows into one matrix: kept quantized when they all share a format the kernels decode (and
    /// the rows are whole 32-value units), otherwise in the activation type.
    /// </summary>
    private DeviceMatrix Matrix(CudaOps ops, params WeightTensor[] parts)
    {
        var format = parts[0].DType;
        bool keep = DeviceMatrix.IsQuantizedFormat(format) && parts.All(p => p.DType == format) && parts[0].Shape[^1] % DeviceMatrix.Unit == 0;
        return keep ? Quantized(ops, format, parts) : Plain(ops, ops.ActType, parts);
    }

    private static (int Rows, int Cols) ShapeOf(WeightTensor[] parts)
    {
        long cols = parts[0].Shape[^1], rows = parts.Sum(p => p.ElementCount / cols);
        return (checked((int)rows), checked((int)cols));
    }

    /// <summary>The parts' stored bytes (and FP8 row scales) as they are: placeholders become random blocks on the device.</summary>
    private unsafe DeviceMatrix Quantized(CudaOps ops, DType format, WeightTensor[] parts)
    {
        var (rows, cols) = ShapeOf(parts);
        long rowBytes = DeviceMatrix.BytesPerRow(format, cols);
        var target = ops.Device.Allocate(rows * rowBytes);
        _owned.Add(target);
        long row = 0;
        foreach (var part in parts)
        {
            long partRows = part.ElementCount / cols;
            ulong dst = target.Pointer + (ulong)(row * rowBytes);
            if (part.IsPlaceholder)
            {
                var (scale, min) = PlaceholderBlockScales(format);
                ops.FillQuantPlaceholder(dst, format, partRows * rowBytes, (ulong)_owned.Count * 7919 + (ulong)row, scale, min);
            }
            else ops.Device.CopyFromHost(dst, part.Data, part.Info.ByteLength);
            Uploaded(part);
            row += partRows;
        }
        ulong scales = format == DType.F8_E4M3 ? Vector(ops, parts.SelectMany(p => p.RowScales.ToArray()).ToArray()) : 0;
        LargestDequantizedBytes = Math.Max(LargestDequantizedBytes, (long)rows * cols * ops.ActBytes);
        return new DeviceMatrix(target.Pointer, rows, cols, format, scales);
    }

    /// <summary>
    /// A synthetic block's scale and minimum scale: random levels and sub-scales then give values of about the bf16
    /// placeholders' standard deviation (0.02) around zero (a K-quant's minimum offsets its levels' mean), so the
    /// benchmark's activations stay in range. FP8 placeholders carry their scale per row instead.
    /// </summary>
    internal static (Half Scale, Half Min) PlaceholderBlockScales(DType format) => format switch
    {
        DType.Q8_0 => ((Half)(0.02f / 73.9f), Half.Zero),         // int8 levels: sd 73.9
        DType.Q4_0 => ((Half)(0.02f / 4.6f), Half.Zero),          // q − 8: sd 4.6
        DType.Q4_K => ((Half)(0.02f / 255), (Half)(7.5f * 0.02f / 255)),   // d·sc·q − dmin·m: sd ≈ 255·d
        DType.Q5_K => ((Half)(0.02f / 520), (Half)(15.5f * 0.02f / 520)),  // sd ≈ 520·d
        DType.Q6_K => ((Half)(0.02f / 1367), Half.Zero),          // int8 sub-scale × (q − 32): sd ≈ 73.9 · 18.5
        _ => (Half.One, Half.Zero),
    };

    /// <summary>The parts stacked by rows into one matrix of <paramref name="type"/> (the activation type, or F32 for the router).</summary>
    private unsafe DeviceMatrix Plain(CudaOps ops, DType type, params WeightTensor[] parts)
    {
        var (rows, cols) = ShapeOf(parts);
        int bytes = type.Size();
        var target = ops.Device.Allocate((long)rows * cols * bytes);
        _owned.Add(target);
        long offset = 0;
        foreach (var part in parts)
        {
            ulong dst = target.Pointer + (ulong)(offset * bytes);
            ulong seed = (ulong)_owned.Count * 7919 + (ulong)offset;
            if (part.IsPlaceholder && type == DType.F32 && ops.Precision != CudaPrecision.Float32)
            {
                // A synthetic float32 matrix in a bf16 model (the router): made in bf16, then widened.
                ulong staging = Staging(ops, part.ElementCount * 2);
                ops.FillUniform(staging, part.ElementCount, seed, PlaceholderScale);
                ops.ConvertToF32(staging, DType.BF16, dst, part.ElementCount);
            }
            else if (part.IsPlaceholder)
                ops.FillUniform(dst, part.ElementCount, seed, PlaceholderScale);
            else if (part.DType == type)
                ops.Device.CopyFromHost(dst, part.Data, part.Info.ByteLength);
            else if (DeviceMatrix.IsQuantizedFormat(part.DType))
                Dequantized(ops, part, type, dst);
            else
            {
                ulong staging = Staging(ops, part.Info.ByteLength);
                ops.Device.CopyFromHost(staging, part.Data, part.Info.ByteLength);
                if (type == DType.F32) ops.ConvertToF32(staging, part.DType, dst, part.ElementCount);
                else ops.ConvertToAct(staging, part.DType, dst, part.ElementCount);
            }
            Uploaded(part);
            offset += part.ElementCount;
        }
        return new DeviceMatrix(target.Pointer, rows, cols, type);
    }

    /// <summary>
    /// A quantized part that must be plain (the embedding; a stack of parts in different formats, as Q4_K_M's q|k|v):
    /// its bytes go up, are decoded to float32 on the device, then converted to <paramref name="type"/>. An FP8 matrix
    /// whose rows are not whole 32-value units (a tiny model's) is decoded on the host instead.
    /// </summary>
    private unsafe void Dequantized(CudaOps ops, WeightTensor part, DType type, ulong dst)
    {
        var (rows, cols) = ShapeOf([part]);
        long floatBytes = 4L * rows * cols;
        if (cols % DeviceMatrix.Unit != 0)
        {
            var values = new float[(long)rows * cols];
            part.ReadFloats(0, values);
            if (type == DType.F32)
            {
                ops.Device.Copy<float>(dst, values);
                return;
            }
            ulong widened = Staging(ops, floatBytes);
            ops.Device.Copy<float>(widened, values);
            ops.ConvertToAct(widened, DType.F32, dst, (long)rows * cols);
            return;
        }
        long quantBytes = part.Info.ByteLength, aligned = (quantBytes + 255) / 256 * 256;
        ulong staging = Staging(ops, aligned + (type == DType.F32 ? 0 : floatBytes));
        ops.Device.CopyFromHost(staging, part.Data, quantBytes);
        ulong scales = part.DType == DType.F8_E4M3 ? Vector(ops, part.RowScales.ToArray()) : 0;
        ulong floats = type == DType.F32 ? dst : staging + (ulong)aligned;
        ops.DequantizeToF32(new DeviceMatrix(staging, rows, cols, part.DType, scales), floats);
        if (type != DType.F32) ops.ConvertToAct(floats, DType.F32, dst, (long)rows * cols);
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
    private CudaLowRank? LowRank(CudaOps ops, params (AdapterDeltas? Deltas, WeightTensor Part)[] parts) =>
        CudaLowRank.Stack(ops, _owned, parts.Select(p => (p.Deltas, checked((int)(p.Part.ElementCount / p.Part.Shape[^1])))).ToArray());

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

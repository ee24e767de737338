using Bamba.Configuration;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// The model's weights on the GPU. Matrices go up in their stored dtype, straight from the memory-mapped file, and
/// are converted on the device to the activation type (no float32 copy on the host); q|k|v and gate|up are stacked
/// into one matrix each so one GEMM computes them. Small vectors (norms, biases, conv taps, A, D) are float32.
/// </summary>
internal sealed class CudaWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public CudaWeights(CudaOps ops, ModelWeights w, BambaConfig c)
    {
        Embedding = Matrix(ops, w.Embedding);
        LmHead = c.TieWordEmbeddings ? Embedding : Matrix(ops, w.LmHead);
        FinalNorm = Vector(ops, w.FinalNorm);
        Layers = w.Layers.Select(l => new Layer
        {
            InputNorm = Vector(ops, l.MixerNorm!),
            PostNorm = Vector(ops, l.FeedForwardNorm!),
            GateUp = Matrix(ops, l.Mlp!.Gate!.Value, l.Mlp.Up),
            Down = Matrix(ops, l.Mlp.Down),
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
            } : null,
            Attention = l.Attention is { } a ? new Attention { Qkv = Matrix(ops, a.Q, a.K, a.V), O = Matrix(ops, a.O) } : null,
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

    public sealed class Layer
    {
        public ulong InputNorm, PostNorm, GateUp, Down;
        public Mamba? Mamba;
        public Attention? Attention;
    }

    public sealed class Mamba
    {
        public ulong InProj, InProjBias, ConvWeight, ConvBias, DtBias, A, D, Norm, OutProj, OutProjBias;
    }

    public sealed class Attention
    {
        public ulong Qkv, O;
    }

    private DeviceBuffer? _staging;

    /// <summary>Uniform in ±0.02·√3: standard deviation 0.02, the config's initializer_range default.</summary>
    private const float PlaceholderScale = 0.0346410162f;

    /// <summary>The parts stacked by rows into one activation-typed matrix.</summary>
    private unsafe ulong Matrix(CudaOps ops, params WeightTensor[] parts)
    {
        long cols = parts[0].Shape[^1], rows = parts.Sum(p => p.ElementCount / cols);
        var target = ops.Device.Allocate(rows * cols * ops.ActBytes);
        _owned.Add(target);
        long offset = 0;
        var actType = ops.Precision == CudaPrecision.BFloat16 ? DType.BF16 : DType.F32;
        foreach (var part in parts)
        {
            ulong dst = target.Pointer + (ulong)(offset * ops.ActBytes);
            if (part.IsPlaceholder)
                ops.FillUniform(dst, part.ElementCount, (ulong)_owned.Count * 7919 + (ulong)offset, PlaceholderScale);
            else if (part.DType == actType)
                ops.Device.CopyFromHost(dst, part.Data, part.Info.ByteLength);
            else
            {
                if (_staging is null || _staging.Bytes < part.Info.ByteLength)
                {
                    ops.Device.Synchronize(); // the old staging buffer may still feed a queued conversion
                    _staging?.Dispose();
                    _staging = ops.Device.Allocate(part.Info.ByteLength);
                }
                ops.Device.CopyFromHost(_staging.Pointer, part.Data, part.Info.ByteLength);
                ops.ConvertToAct(_staging.Pointer, part.DType, dst, part.ElementCount);
            }
            offset += part.ElementCount;
        }
        return target.Pointer;
    }

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

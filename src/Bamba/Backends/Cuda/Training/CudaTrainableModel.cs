using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// A hybrid model of any registered family trained on the GPU (the CPU twin: Training.TrainableModel): the layers its
/// plan describes, a forward over a packed batch that keeps each layer's activations in named device buffers (or,
/// recomputing, only each layer's input, the tapes sharing one layer's buffers), the loss, and the backward that
/// accumulates every parameter's gradient into <see cref="CudaParameters"/>. Activations are float32; in bf16 mode
/// the GEMMs read bf16 operands (the routers' stay float32).
/// </summary>
public sealed class CudaTrainableModel : IDisposable
{
    private readonly CudaTrainOps _ops;
    private readonly DeviceScratch _scratch;
    private readonly TrainContext _t;
    private readonly TrainingLayer<CudaBatch, ulong>[] _layers;
    private readonly DeviceBuffer _invFreq, _negInvFreq;

    /// <param name="lora">A LoRA run's adapters beside the frozen <paramref name="parameters"/>, or null to train the model itself.</param>
    /// <param name="recomputeActivations">Recompute each layer's activations just before its backward (as the CPU's <see cref="TrainableModel"/>).</param>
    public CudaTrainableModel(CudaTrainOps ops, CudaParameters parameters, CudaLora? lora = null, bool recomputeActivations = false)
    {
        EnsureSupported(parameters.Host!, lora?.Set);
        _ops = ops;
        Parameters = parameters;
        _scratch = new DeviceScratch(ops.Device);
        _t = new TrainContext(ops, parameters, new TrainGemm(ops, parameters, _scratch, lora), _scratch, recomputeActivations);
        var c = parameters.Config;
        // Same RoPE frequencies as the CPU trainer (bf16-rounded for a bf16 checkpoint, as transformers has them).
        var freqs = new Rope(c.RopeTheta, c.RotaryDim, c.Dtype == "bfloat16").InverseFrequencies.ToArray();
        if (freqs.Length == 0) freqs = [0f];
        _invFreq = ops.Device.Upload<float>(freqs);
        _negInvFreq = ops.Device.Upload<float>(freqs.Select(f => -f).ToArray());
        _layers = Enumerable.Range(0, c.NumHiddenLayers).Select(i => CudaLayerOps.Layer(_t, i, _invFreq.Pointer, _negInvFreq.Pointer)).ToArray();
    }

    /// <summary>
    /// GPU training runs every layer the families describe. A LoRA adapter sits only beside a whole matrix there, not
    /// beside a half of a fused gate|up matrix (Granite's shared MLP, which the CPU trainer adapts): refuse it by name
    /// rather than compute something else.
    /// </summary>
    internal static void EnsureSupported(ParameterSet set, Bamba.Training.Lora.LoraSet? lora)
    {
        var fused = set.Tensors.All.Where(t => t.Role == TensorRole.MlpGateUp).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (lora?.Adapters.FirstOrDefault(a => fused.Contains(a.Base.Name)) is { } adapter)
            throw new BambaException($"training on the GPU does not support a LoRA adapter on a fused gate|up matrix yet ({adapter.Base.Name}); " +
                "train with --device cpu, or leave gate_up out of --lora-targets");
    }

    public CudaParameters Parameters { get; }
    public bool RecomputeActivations => _t.Recompute;
    /// <summary>Bytes of the named work buffers: the activations, tapes and scratch of the largest batch so far.</summary>
    public long WorkBytes => _scratch.Bytes;
    private Configuration.BambaConfig Config => Parameters.Config;
    private ParameterSet Set => Parameters.Host!;

    /// <summary>Forward, loss and backward of one batch; gradients are added with the scales of <see cref="TrainableModel.ForwardBackward"/>.</summary>
    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale, float auxScale = 0f)
    {
        using var b = new CudaBatch(_ops.Device, batch, Config.VocabSize);
        var (x, saved, normed, logits) = Forward(b);
        var sums = Loss(b, logits, ceScale, zScale) + TrainingLayer<CudaBatch, ulong>.RouterAuxLoss(Config, saved, b.Rows, auxScale);
        Backward(b, x, saved, normed, logits);
        _ops.Device.Synchronize(); // the batch's device arrays are freed on return
        return sums;
    }

    /// <summary>Loss sums without gradients (evaluation).</summary>
    public LossSums Evaluate(TrainingBatch batch)
    {
        using var b = new CudaBatch(_ops.Device, batch, Config.VocabSize);
        var (_, _, _, logits) = Forward(b);
        return Loss(b, logits, 0f, 0f);
    }

    private (ulong X, TrainingLayer<CudaBatch, ulong>.Saved[] Saved, ulong Normed, ulong Logits) Forward(CudaBatch b)
    {
        int rows = b.Rows, h = Config.HiddenSize;
        ulong x = _t.Buffer("model.x", (long)rows * h), normed = _t.Buffer("model.normed", (long)rows * h);
        ulong logits = _t.Buffer("model.logits", (long)rows * Config.VocabSize);
        _t.Kernels.Embedding(b.Tokens, _t.Value(TensorRole.Embedding), x, rows, h, (float)Config.EmbeddingMultiplier);
        var saved = _layers.Select(layer => layer.Forward(b, rows, x)).ToArray();
        _t.Kernels.RmsNorm(x, _t.Value(TensorRole.FinalNorm), normed, rows, h, _t.Eps);
        _t.Gemm.Forward(normed, Set.Head.Whole, logits, rows, Config.VocabSize, h);
        ScaleLogits(logits, rows);
        return (x, saved, normed, logits);
    }

    /// <summary>Granite's logits_scaling divides the logits, and so their gradient.</summary>
    private void ScaleLogits(ulong logits, int rows)
    {
        if (Config.LogitsScaling != 1.0) _ops.Scale(logits, (long)rows * Config.VocabSize, (float)(1.0 / Config.LogitsScaling));
    }

    /// <summary>The loss terms of every row, summed on the host in double; leaves the logits' gradient in place.</summary>
    private LossSums Loss(CudaBatch b, ulong logits, float ceScale, float zScale)
    {
        ulong ce = _t.Buffer("loss.ce", b.Rows), zsq = _t.Buffer("loss.zsq", b.Rows);
        _ops.CrossEntropy(logits, b.Targets, b.Rows, Config.VocabSize, ceScale, zScale, ce, zsq);
        double ceSum = _ops.Device.Download<float>(ce, b.Rows).Sum(v => (double)v);
        double zSum = _ops.Device.Download<float>(zsq, b.Rows).Sum(v => (double)v);
        return new LossSums(ceSum, b.TargetCount, zSum, b.Rows);
    }

    private void Backward(CudaBatch b, ulong x, TrainingLayer<CudaBatch, ulong>.Saved[] saved, ulong normed, ulong dLogits)
    {
        int rows = b.Rows, h = Config.HiddenSize, v = Config.VocabSize;
        var head = Set.Head.Whole;
        ScaleLogits(dLogits, rows);
        _t.Gemm.WeightGrad(dLogits, normed, head, rows, v, h);
        ulong dNormed = _t.Buffer("bwd.model.dnormed", (long)rows * h), dx = _t.Buffer("bwd.model.dx", (long)rows * h);
        _t.Gemm.InputGrad(dLogits, head, dNormed, rows, v, h, accumulate: false);
        _ops.Device.Clear(dx, 4L * rows * h);
        _t.RmsNormBackward(x, Set[TensorRole.FinalNorm], dNormed, dx, rows, h);
        for (int i = _layers.Length - 1; i >= 0; i--) _layers[i].Backward(b, rows, saved[i], dx);
        if (Parameters.Frozen) return;
        if (Config.EmbeddingMultiplier != 1.0) _ops.Scale(dx, (long)rows * h, (float)Config.EmbeddingMultiplier);
        _ops.EmbeddingBackward(b.Tokens, dx, rows, h, _t.Grad(TensorRole.Embedding));
    }

    public void Dispose()
    {
        _scratch.Dispose();
        _invFreq.Dispose();
        _negInvFreq.Dispose();
    }
}

using Bamba.Backends.Cpu;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// A Bamba model trained on the GPU (the CPU twin: Training.TrainableModel): a forward over a packed batch that keeps
/// each layer's activations in named device buffers, the loss, and the backward that accumulates every parameter's
/// gradient into <see cref="CudaParameters"/>. Activations are float32; in bf16 mode the GEMMs read bf16 operands.
/// </summary>
public sealed class CudaTrainableModel : IDisposable
{
    private readonly CudaTrainOps _ops;
    private readonly DeviceScratch _scratch;
    private readonly TrainContext _t;
    private readonly CudaLayerTrainer[] _layers;
    private readonly DeviceBuffer _invFreq, _negInvFreq;

    /// <param name="lora">A LoRA run's adapters beside the frozen <paramref name="parameters"/>, or null to train the model itself.</param>
    public CudaTrainableModel(CudaTrainOps ops, CudaParameters parameters, CudaLora? lora = null)
    {
        EnsureSupported(parameters.Config);
        _ops = ops;
        Parameters = parameters;
        _scratch = new DeviceScratch(ops.Device);
        _t = new TrainContext(ops, parameters, new TrainGemm(ops, parameters, _scratch, lora), _scratch);
        var c = parameters.Config;
        // Same RoPE frequencies as the CPU trainer (bf16-rounded for a bf16 checkpoint, as transformers has them).
        var freqs = new Rope(c.RopeTheta, c.RotaryDim, c.Dtype == "bfloat16").InverseFrequencies.ToArray();
        if (freqs.Length == 0) freqs = [0f];
        _invFreq = ops.Device.Upload<float>(freqs);
        _negInvFreq = ops.Device.Upload<float>(freqs.Select(f => -f).ToArray());
        _layers = Enumerable.Range(0, c.NumHiddenLayers).Select(i => new CudaLayerTrainer(_t, i, _invFreq.Pointer, _negInvFreq.Pointer)).ToArray();
    }

    /// <summary>
    /// GPU training runs Bamba's layer shape: a Mamba-2 or RoPE attention mixer and a SwiGLU MLP in every layer, no
    /// multipliers. The other families train on the CPU for now (they run on the GPU for inference); refuse their
    /// features by name rather than compute something else.
    /// </summary>
    internal static void EnsureSupported(Configuration.BambaConfig c)
    {
        string? missing =
            c.HasMixtureOfExperts ? "mixture-of-experts layers"
            : !c.MlpGated ? "squared-ReLU MLPs"
            : c.Layers.Any(l => l.Mixer == Configuration.MixerKind.None || l.FeedForward == Configuration.FeedForwardKind.None) ? "layers without a mixer or an MLP"
            : c.MambaNormGroups != 1 ? "a per-group Mamba norm"
            : c.EmbeddingMultiplier != 1 || c.ResidualMultiplier != 1 || c.LogitsScaling != 1 || c.AttentionScale is not null ? "embedding, residual, attention or logits multipliers"
            : c.NumAttentionLayers > 0 && !c.UseRope ? "attention without RoPE"
            : null;
        if (missing is not null)
            throw new BambaException($"training on the GPU does not support {missing} yet (model_type '{c.ModelType}'); train with --device cpu");
    }

    public CudaParameters Parameters { get; }
    private Configuration.BambaConfig Config => Parameters.Config;
    private string HeadName => Config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    private const string Embedding = "model.embed_tokens.weight", FinalNorm = "model.final_layernorm.weight";

    /// <summary>Forward, loss and backward of one batch; gradients are added with the scales of <see cref="TrainableModel.ForwardBackward"/>.</summary>
    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale)
    {
        using var b = new CudaBatch(_ops.Device, batch, Config.VocabSize);
        var (x, tapes, normed, logits) = Forward(b);
        var sums = Loss(b, logits, ceScale, zScale);
        Backward(b, x, tapes, normed, logits);
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

    private (ulong X, CudaLayerTrainer.Tape[] Tapes, ulong Normed, ulong Logits) Forward(CudaBatch b)
    {
        int rows = b.Rows, h = Config.HiddenSize;
        ulong x = _t.Buffer("model.x", (long)rows * h), normed = _t.Buffer("model.normed", (long)rows * h);
        ulong logits = _t.Buffer("model.logits", (long)rows * Config.VocabSize);
        _t.Kernels.Embedding(b.Tokens, Parameters.Value(Embedding), x, rows, h);
        var tapes = _layers.Select(layer => layer.Forward(b, x)).ToArray();
        _t.Kernels.RmsNorm(x, Parameters.Value(FinalNorm), normed, rows, h, _t.Eps);
        _t.Gemm.Forward(normed, HeadName, logits, rows, Config.VocabSize, h);
        return (x, tapes, normed, logits);
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

    private void Backward(CudaBatch b, ulong x, CudaLayerTrainer.Tape[] tapes, ulong normed, ulong dLogits)
    {
        int rows = b.Rows, h = Config.HiddenSize, v = Config.VocabSize;
        _t.Gemm.WeightGrad(dLogits, normed, HeadName, rows, v, h);
        ulong dNormed = _t.Buffer("bwd.model.dnormed", (long)rows * h), dx = _t.Buffer("bwd.model.dx", (long)rows * h);
        _t.Gemm.InputGrad(dLogits, HeadName, dNormed, rows, v, h, accumulate: false);
        _ops.Device.Clear(dx, 4L * rows * h);
        _t.RmsNormBackward(x, FinalNorm, dNormed, dx, rows, h);
        for (int i = _layers.Length - 1; i >= 0; i--) _layers[i].Backward(b, tapes[i], dx);
        if (!Parameters.Frozen) _ops.EmbeddingBackward(b.Tokens, dx, rows, h, Parameters.Grad(Embedding));
    }

    public void Dispose()
    {
        _scratch.Dispose();
        _invFreq.Dispose();
        _negInvFreq.Dispose();
    }
}

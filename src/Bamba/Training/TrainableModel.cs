using System.Numerics.Tensors;
using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// A hybrid model of any registered family whose float32 parameters can be trained on the CPU: a forward over a packed batch that keeps each
/// layer's activations (or, recomputing, only each layer's input), the loss, and a manual backward that accumulates every parameter's gradient.
/// </summary>
public sealed class TrainableModel
{
    private readonly TrainingLayer<TrainingBatch, float[]>[] _layers;

    /// <summary>The model over <paramref name="parameters"/>; with <paramref name="lora"/>, the base is frozen and the adapters train.</summary>
    /// <param name="recomputeActivations">
    /// Keep only each layer's input in the forward and run the layer's forward again just before its backward
    /// (gradient checkpointing): the same loss and gradients, bit for bit, for one layer's activations instead of all.
    /// </param>
    public TrainableModel(ParameterSet parameters, LoraSet? lora = null, bool recomputeActivations = false)
    {
        Parameters = parameters;
        Lora = lora;
        RecomputeActivations = recomputeActivations;
        Config = parameters.Config;
        // Same RoPE frequencies as the inference model (bf16-rounded for a bf16 checkpoint, as transformers has them).
        var rope = new Rope(Config.RopeTheta, Config.RotaryDim, Config.Dtype == "bfloat16");
        _layers = Enumerable.Range(0, Config.NumHiddenLayers).Select(i => CpuLayerOps.Layer(Config, parameters, i, rope, lora, recomputeActivations)).ToArray();
    }

    public bool RecomputeActivations { get; }
    public BambaConfig Config { get; }
    public ParameterSet Parameters { get; }
    public LoraSet? Lora { get; }

    /// <summary>
    /// Forward, loss and backward of one batch. Gradients are added to <see cref="Parameter.Grad"/> scaled so that
    /// <c>ceScale·Σ CE + zScale·Σ lse² + auxScale·aux</c> is the differentiated objective (1/targets, z_coef/positions
    /// and router_aux_loss_coef for one batch; aux is <see cref="RouterAuxLoss"/>, off when <paramref name="auxScale"/> is 0).
    /// </summary>
    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale, float auxScale = 0f)
    {
        if (Lora is not null) Lora.Training = true;
        var (x, saved, normed, logits) = Forward(batch);
        var sums = CausalLmLoss.ForwardBackward(logits, Config.VocabSize, batch, ceScale, zScale)
                   + TrainingLayer<TrainingBatch, float[]>.RouterAuxLoss(Config, saved, batch.Rows, auxScale);
        Backward(batch, x, saved, normed, logits);
        if (Lora is not null) Lora.TrainingForwards++; // the next forward draws new dropout masks
        return sums;
    }

    /// <summary>Loss sums without gradients (evaluation).</summary>
    public LossSums Evaluate(TrainingBatch batch)
    {
        if (Lora is not null) Lora.Training = false;
        var (_, _, _, logits) = Forward(batch);
        return CausalLmLoss.ForwardBackward(logits, Config.VocabSize, batch, 0f, 0f);
    }

    /// <summary>The logits [rows, vocab] of an evaluation forward (adapters applied unmerged, no dropout).</summary>
    public float[] Logits(TrainingBatch batch)
    {
        if (Lora is not null) Lora.Training = false;
        return Forward(batch).Logits;
    }

    /// <summary>Convenience for one batch: the transformers loss (the router auxiliary loss in it as the config says) and its gradients (accumulated).</summary>
    public double LossAndGradients(TrainingBatch batch)
    {
        float zCoef = (float)Config.ZLossCoefficient;
        double auxCoef = RouterAuxLoss.DefaultCoefficient(Config);
        var sums = ForwardBackward(batch, 1f / Math.Max(1, batch.TargetCount), zCoef / batch.Rows, (float)auxCoef);
        return sums.Objective(Config.ZLossCoefficient, auxCoef);
    }

    internal (float[] X, TrainingLayer<TrainingBatch, float[]>.Saved[] Saved, float[] Normed, float[] Logits) Forward(TrainingBatch batch)
    {
        int rows = batch.Rows, h = Config.HiddenSize;
        var x = Embed(batch.Tokens);
        var saved = new TrainingLayer<TrainingBatch, float[]>.Saved[_layers.Length];
        for (int i = 0; i < _layers.Length; i++) saved[i] = _layers[i].Forward(batch, rows, x);
        var normed = new float[rows * h];
        Norms.RmsNorm(x, FinalNorm.Value, Eps, normed);
        var logits = new float[rows * Config.VocabSize];
        DenseMatrix.Forward(normed, rows, Parameters.Head.Value, Config.VocabSize, h, [], logits);
        if (Config.LogitsScaling != 1.0) TensorPrimitives.Divide(logits, (float)Config.LogitsScaling, logits);
        return (x, saved, normed, logits);
    }

    private void Backward(TrainingBatch batch, float[] x, TrainingLayer<TrainingBatch, float[]>.Saved[] saved, float[] normed, float[] dLogits)
    {
        int rows = batch.Rows, h = Config.HiddenSize, v = Config.VocabSize;
        var head = Parameters.Head;
        if (Config.LogitsScaling != 1.0) TensorPrimitives.Divide(dLogits, (float)Config.LogitsScaling, dLogits);
        WeightGrad.Accumulate(head, dLogits, normed, rows, v, h);
        var dNormed = new float[rows * h];
        DenseMatrix.InputGrad(dLogits, rows, head.Value, v, h, dNormed, accumulate: false);
        var dx = new float[rows * h];
        NormsBackward.RmsNorm(x, FinalNorm.Value, Eps, dNormed, dx, FinalNorm.Grad);
        for (int i = _layers.Length - 1; i >= 0; i--) _layers[i].Backward(batch, rows, saved[i], dx);
        var embedding = Parameters[TensorRole.Embedding];
        if (embedding.Frozen) return;
        float multiplier = (float)Config.EmbeddingMultiplier;
        for (int r = 0; r < rows; r++)
        {
            var g = embedding.Grad.AsSpan(batch.Tokens[r] * h, h);
            if (multiplier == 1f) TensorPrimitives.Add(g, dx.AsSpan(r * h, h), g);
            else TensorPrimitives.MultiplyAdd(dx.AsSpan(r * h, h), multiplier, g, g);
        }
    }

    private Parameter FinalNorm => Parameters[TensorRole.FinalNorm];
    private float Eps => (float)Config.RmsNormEps;

    private float[] Embed(int[] tokens)
    {
        int h = Config.HiddenSize;
        var table = Parameters[TensorRole.Embedding].Value;
        var x = new float[tokens.Length * h];
        for (int r = 0; r < tokens.Length; r++)
        {
            if ((uint)tokens[r] >= (uint)Config.VocabSize)
                throw new BambaException($"token id {tokens[r]} is outside the vocabulary (0..{Config.VocabSize - 1})");
            table.AsSpan(tokens[r] * h, h).CopyTo(x.AsSpan(r * h));
        }
        if (Config.EmbeddingMultiplier != 1.0) TensorPrimitives.Multiply(x, (float)Config.EmbeddingMultiplier, x);
        return x;
    }
}

using Bamba.Configuration;
using Bamba.Training;
using Bamba.Training.Lora;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Training on one GPU: float32 master weights, gradients and AdamW moments on the device; GEMM operands in bf16
/// (<see cref="CudaPrecision.BFloat16"/>, mixed precision) or float32 (<see cref="CudaPrecision.Float32"/>, the
/// exact-parity mode). Starts from the host <see cref="ParameterSet"/> and <see cref="AdamW"/> (fresh, loaded or
/// resumed) and writes them back on <see cref="SyncToHost"/>. A LoRA run keeps the model frozen and trains only the
/// adapters (<see cref="CudaLora"/>).
/// </summary>
public sealed class CudaTrainingEngine : ITrainingEngine
{
    private readonly CudaOps _ops;
    private readonly CudaParameters _parameters;
    private readonly CudaLora? _lora;
    private readonly CudaTrainableModel _model;
    private readonly CudaAdamW _optimizer;

    /// <param name="lora">
    /// A LoRA run: <paramref name="parameters"/> stay frozen in their stored precision (bf16 matrices in bf16 mode) and
    /// <paramref name="optimizer"/> (over the adapters) trains the adapters, whose values and moments are float32.
    /// </param>
    /// <param name="recomputeActivations">Recompute each layer's activations just before its backward (gradient checkpointing).</param>
    public CudaTrainingEngine(CudaDevice device, ParameterSet parameters, AdamW optimizer, CudaPrecision precision, LoraSet? lora = null,
        bool recomputeActivations = false)
    {
        _ops = new CudaOps(device, CudaPrecision.Float32);
        try
        {
            var train = new CudaTrainOps(_ops);
            _parameters = new CudaParameters(train, parameters, precision, frozen: lora is not null);
            _lora = lora is null ? null : new CudaLora(train, lora, precision);
            _model = new CudaTrainableModel(train, _parameters, _lora, recomputeActivations);
            _optimizer = new CudaAdamW(train, _lora?.Adapters ?? _parameters, optimizer);
        }
        catch
        {
            Dispose();
            throw;
        }
        Precision = precision;
    }

    public CudaPrecision Precision { get; }
    public bool RecomputeActivations => _model.RecomputeActivations;
    /// <summary>Bytes of the trainer's work buffers (activations and scratch) on the device.</summary>
    public long WorkBytes => _model.WorkBytes;
    public BambaConfig Config => _parameters.Config;
    public ParameterSet Parameters => _parameters.Host!;
    public AdamW Optimizer => _optimizer.Host;
    private CudaParameters Trained => _lora?.Adapters ?? _parameters;

    public void ZeroGrad() => Trained.ZeroGrad();
    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale, float auxScale = 0f) => _model.ForwardBackward(batch, ceScale, zScale, auxScale);
    public LossSums Evaluate(TrainingBatch batch) => _model.Evaluate(batch);
    public double ClipGradients(double maxNorm) => _optimizer.ClipGlobalNorm(maxNorm);
    public void Update(float lr) => _optimizer.Update(lr);

    /// <summary>The trained values (the model, or a LoRA run's adapters), their gradients and the optimizer's moments → the host.</summary>
    public void SyncToHost()
    {
        Trained.Download();
        _optimizer.Download();
    }

    public void Dispose()
    {
        _optimizer?.Dispose();
        _model?.Dispose();
        _lora?.Dispose();
        _parameters?.Dispose();
        _ops.Dispose();
    }
}

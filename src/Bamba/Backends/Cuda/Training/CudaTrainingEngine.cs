using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Training on one GPU: float32 master weights, gradients and AdamW moments on the device; GEMM operands in bf16
/// (<see cref="CudaPrecision.BFloat16"/>, mixed precision) or float32 (<see cref="CudaPrecision.Float32"/>, the
/// exact-parity mode). Starts from the host <see cref="ParameterSet"/> and <see cref="AdamW"/> (fresh, loaded or
/// resumed) and writes them back on <see cref="SyncToHost"/>.
/// </summary>
public sealed class CudaTrainingEngine : ITrainingEngine
{
    private readonly CudaOps _ops;
    private readonly CudaParameters _parameters;
    private readonly CudaTrainableModel _model;
    private readonly CudaAdamW _optimizer;

    public CudaTrainingEngine(CudaDevice device, ParameterSet parameters, AdamW optimizer, CudaPrecision precision)
    {
        _ops = new CudaOps(device, CudaPrecision.Float32);
        var train = new CudaTrainOps(_ops);
        _parameters = new CudaParameters(train, parameters, precision);
        _model = new CudaTrainableModel(train, _parameters);
        _optimizer = new CudaAdamW(train, _parameters, optimizer);
        Precision = precision;
    }

    public CudaPrecision Precision { get; }
    public BambaConfig Config => _parameters.Host.Config;
    public ParameterSet Parameters => _parameters.Host;
    public AdamW Optimizer => _optimizer.Host;

    public void ZeroGrad() => _parameters.ZeroGrad();
    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale) => _model.ForwardBackward(batch, ceScale, zScale);
    public LossSums Evaluate(TrainingBatch batch) => _model.Evaluate(batch);
    public double ClipGradients(double maxNorm) => _optimizer.ClipGlobalNorm(maxNorm);
    public void Update(float lr) => _optimizer.Update(lr);

    public void SyncToHost()
    {
        _parameters.Download();
        _optimizer.Download();
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _model.Dispose();
        _parameters.Dispose();
        _ops.Dispose();
    }
}

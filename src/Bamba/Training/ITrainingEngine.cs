using Bamba.Configuration;

namespace Bamba.Training;

/// <summary>
/// Where <see cref="Trainer"/>'s steps run: the model's forward/backward, gradient clipping and the optimizer over
/// one <see cref="ParameterSet"/>. The CPU engine works on the host parameters directly; a device engine keeps its
/// own copies and writes them back on <see cref="SyncToHost"/> (before a checkpoint).
/// </summary>
public interface ITrainingEngine : IDisposable
{
    BambaConfig Config { get; }
    ParameterSet Parameters { get; }
    AdamW Optimizer { get; }
    void ZeroGrad();
    /// <summary>Adds the batch's gradients scaled as <see cref="TrainableModel.ForwardBackward"/> does; returns its loss sums.</summary>
    LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale, float auxScale = 0f);
    LossSums Evaluate(TrainingBatch batch);
    /// <summary>Clips the global gradient norm to <paramref name="maxNorm"/> (0 = no clipping); returns the norm before.</summary>
    double ClipGradients(double maxNorm);
    void Update(float lr);
    /// <summary>Makes <see cref="Parameters"/> (values and gradients) and <see cref="Optimizer"/> current on the host.</summary>
    void SyncToHost();
}

/// <summary>Training on the CPU: <see cref="TrainableModel"/> and <see cref="AdamW"/> on the host parameters.</summary>
public sealed class CpuTrainingEngine(TrainableModel model, AdamW optimizer) : ITrainingEngine
{
    public BambaConfig Config => model.Config;
    public ParameterSet Parameters => model.Parameters;
    public AdamW Optimizer => optimizer;
    public void ZeroGrad()
    {
        model.Parameters.ZeroGrad();
        model.Lora?.ZeroGrad();
    }

    public LossSums ForwardBackward(TrainingBatch batch, float ceScale, float zScale, float auxScale = 0f) => model.ForwardBackward(batch, ceScale, zScale, auxScale);
    public LossSums Evaluate(TrainingBatch batch) => model.Evaluate(batch);
    public double ClipGradients(double maxNorm) => GradientClipping.ClipGlobalNorm(optimizer.Trained, maxNorm);
    public void Update(float lr) => optimizer.Update(lr);
    public void SyncToHost() { }
    public void Dispose() { }
}

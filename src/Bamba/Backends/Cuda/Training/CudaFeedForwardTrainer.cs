using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>A layer's feed-forward on the GPU (the CPU twin: Training.FeedForwardTrainer): routed experts, the dense (or shared) MLP, or both added.</summary>
internal sealed class CudaFeedForwardTrainer : ISublayer<CudaBatch, ulong>
{
    private readonly TrainContext _t;
    private readonly CudaExpertsTrainer? _experts;
    private readonly CudaMlpTrainer? _mlp;

    public CudaFeedForwardTrainer(TrainContext t, int layer)
    {
        _t = t;
        if (t.Config.Layers[layer].FeedForward == FeedForwardKind.MixtureOfExperts) _experts = new CudaExpertsTrainer(t, layer);
        if (t.Set.Find(TensorRole.MlpDown, layer) is { } down) _mlp = DenseMlp(t, layer, down);
    }

    /// <summary>Gate and up as stored, or the two halves of a fused gate|up matrix.</summary>
    private static CudaMlpTrainer DenseMlp(TrainContext t, int layer, Parameter down)
    {
        string name = t.TapeName(layer, "mlp.");
        if (t.Set.Find(TensorRole.MlpGateUp, layer) is { } fused)
        {
            int half = fused.Length / 2;
            return new CudaMlpTrainer(t, name, new ParameterSlice(fused, 0, half), new ParameterSlice(fused, half, half), down.Whole);
        }
        return new CudaMlpTrainer(t, name, t.Set.Find(TensorRole.MlpGate, layer)?.Whole, t.Set[TensorRole.MlpUp, layer].Whole, down.Whole);
    }

    public sealed record Tape(CudaExpertsTrainer.Tape? Experts, CudaMlpTrainer.Tape? Mlp) : IRoutedTape
    {
        public IRouterTape? Router => Experts;
    }

    object ISublayer<CudaBatch, ulong>.Forward(CudaBatch batch, ulong input, ulong output) => Forward(batch.Rows, input, output);
    ulong ISublayer<CudaBatch, ulong>.Backward(CudaBatch batch, object tape, ulong dOutput) => Backward(batch.Rows, (Tape)tape, dOutput);

    public Tape Forward(int rows, ulong input, ulong output)
    {
        if (_experts is null) return new Tape(null, _mlp!.Forward(rows, input, output));
        long n = (long)rows * _t.Config.HiddenSize;
        ulong acc = _t.Buffer("fwd.experts.acc", n), shared = 0;
        var experts = _experts.Forward(rows, input, acc);
        var mlp = _mlp?.Forward(rows, input, shared = _t.Buffer("fwd.experts.shared", n));
        _t.Kernels.ExpertsFinish(acc, shared, output, n);
        return new Tape(experts, mlp);
    }

    /// <summary>Returns the gradient of the input (a work buffer valid until the next feed-forward's backward).</summary>
    public ulong Backward(int rows, Tape tape, ulong dOutput)
    {
        ulong dInput = tape.Experts is { } e ? _experts!.Backward(rows, e, dOutput) : 0UL;
        if (tape.Mlp is not { } m) return dInput;
        ulong dMlp = _mlp!.Backward(rows, m, dOutput);
        if (dInput == 0) return dMlp;
        _t.Kernels.AddResidual(dInput, dMlp, (long)rows * _t.Config.HiddenSize);
        return dInput;
    }
}

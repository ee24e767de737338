using System.Numerics.Tensors;
using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>A layer's feed-forward for training: routed experts, the dense (or shared) MLP, or both added.</summary>
internal sealed class FeedForwardTrainer : ISublayer<TrainingBatch, float[]>
{
    private readonly ExpertsTrainer? _experts;
    private readonly MlpTrainer? _mlp;

    public FeedForwardTrainer(BambaConfig c, ParameterSet set, int layer, LoraSet? lora)
    {
        if (c.Layers[layer].FeedForward == FeedForwardKind.MixtureOfExperts) _experts = new ExpertsTrainer(c, set, layer);
        if (set.Find(TensorRole.MlpDown, layer) is { } down) _mlp = DenseMlp(c, set, layer, down, lora);
    }

    /// <summary>Gate and up as stored, or the two halves of a fused gate|up matrix.</summary>
    private static MlpTrainer DenseMlp(BambaConfig c, ParameterSet set, int layer, Parameter down, LoraSet? lora)
    {
        if (set.Find(TensorRole.MlpGateUp, layer) is { } fused)
        {
            int half = fused.Length / 2;
            return new MlpTrainer(new ParameterSlice(fused, 0, half), new ParameterSlice(fused, half, half), down.Whole, c.HiddenSize, lora);
        }
        return new MlpTrainer(set.Find(TensorRole.MlpGate, layer)?.Whole, set[TensorRole.MlpUp, layer].Whole, down.Whole, c.HiddenSize, lora);
    }

    public sealed record Tape(ExpertsTrainer.Tape? Experts, MlpTrainer.Tape? Mlp) : IRoutedTape
    {
        public IRouterTape? Router => Experts;
    }

    object ISublayer<TrainingBatch, float[]>.Forward(TrainingBatch batch, float[] input, float[] output) => Forward(batch.Rows, input, output);
    float[] ISublayer<TrainingBatch, float[]>.Backward(TrainingBatch batch, object tape, float[] dOutput) => Backward(batch.Rows, (Tape)tape, dOutput);

    public Tape Forward(int rows, float[] input, float[] output)
    {
        var experts = _experts?.Forward(rows, input, output);
        if (_mlp is null) return new Tape(experts, null);
        var dense = experts is null ? output : new float[output.Length];
        var mlp = _mlp.Forward(rows, input, dense);
        if (experts is not null) TensorPrimitives.Add(output, dense, output);
        return new Tape(experts, mlp);
    }

    public float[] Backward(int rows, Tape tape, float[] dOutput)
    {
        var dInput = tape.Experts is { } e ? _experts!.Backward(rows, e, dOutput) : null;
        if (tape.Mlp is not { } m) return dInput!;
        var dMlp = _mlp!.Backward(rows, m, dOutput);
        if (dInput is null) return dMlp;
        TensorPrimitives.Add(dInput, dMlp, dInput);
        return dInput;
    }
}

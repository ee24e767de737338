using System.Numerics.Tensors;
using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Training;

/// <summary>
/// Routed experts for training (the forward of the CPU model's experts, keeping what the backward needs) and their
/// backward: each expert's MLP, the routing weights, and through them the router. The choice of experts is held
/// fixed, as in transformers, where top-k passes no gradient.
/// </summary>
internal sealed class ExpertsTrainer
{
    private readonly BambaConfig _c;
    private readonly Parameter _router;
    private readonly float[] _choiceBias;
    private readonly MlpTrainer[] _experts;

    public ExpertsTrainer(BambaConfig c, ParameterSet set, int layer)
    {
        _c = c;
        _router = set[TensorRole.Router, layer];
        _choiceBias = set.Find(TensorRole.RouterBias, layer)?.Value ?? [];
        _experts = Enumerable.Range(0, c.NumExperts).Select(e => Expert(set, layer, e)).ToArray();
    }

    /// <summary>An expert's gate, up and down: halves of a stacked [E, 2I, H] tensor, or per-expert matrices.</summary>
    private MlpTrainer Expert(ParameterSet set, int layer, int e)
    {
        int h = _c.HiddenSize;
        if (set.Find(TensorRole.ExpertsGateUp, layer) is { } stacked)
        {
            int half = _c.ExpertIntermediateSize * h, downs = set[TensorRole.ExpertsDown, layer].Length / _c.NumExperts;
            return new MlpTrainer(new ParameterSlice(stacked, 2 * half * e, half), new ParameterSlice(stacked, 2 * half * e + half, half),
                new ParameterSlice(set[TensorRole.ExpertsDown, layer], downs * e, downs), h);
        }
        return new MlpTrainer(null, set[TensorRole.ExpertUp, layer, e].Whole, set[TensorRole.ExpertDown, layer, e].Whole, h);
    }

    public sealed record Tape(float[] Input, float[] Logits, ExpertRouter.Routing Routing, List<(int Expert, int[] Picks, MlpTrainer.Tape Tape, float[] Result)> Runs,
        float[] DLogits) : IRouterTape;

    public Tape Forward(int rows, float[] input, float[] output)
    {
        int h = _c.HiddenSize, e = _c.NumExperts;
        var logits = new float[rows * e];
        DenseMatrix.Forward(input, rows, _router.Value, e, h, [], logits);
        var routing = ExpertRouter.Route(_c, logits, _choiceBias, rows);
        Array.Clear(output);
        var runs = new List<(int, int[], MlpTrainer.Tape, float[])>();
        foreach (var (expert, picks) in FeedForward.ByExpert(routing, e))
        {
            var gathered = new float[picks.Length * h];
            for (int j = 0; j < picks.Length; j++) input.AsSpan(picks[j] / routing.K * h, h).CopyTo(gathered.AsSpan(j * h));
            var result = new float[picks.Length * h];
            var tape = _experts[expert].Forward(picks.Length, gathered, result);
            for (int j = 0; j < picks.Length; j++)
            {
                var row = output.AsSpan(picks[j] / routing.K * h, h);
                TensorPrimitives.MultiplyAdd(result.AsSpan(j * h, h), routing.Weights[picks[j]], row, row);
            }
            runs.Add((expert, picks, tape, result));
        }
        return new Tape(input, logits, routing, runs, new float[rows * e]);
    }

    /// <summary>Accumulates the experts' and the router's gradients and returns the gradient of the input.</summary>
    public float[] Backward(int rows, Tape tape, float[] dOutput)
    {
        int h = _c.HiddenSize, e = _c.NumExperts, k = tape.Routing.K;
        var dInput = new float[rows * h];
        var dWeights = new float[rows * k];
        foreach (var (expert, picks, mlpTape, result) in tape.Runs)
        {
            var dResult = new float[picks.Length * h];
            for (int j = 0; j < picks.Length; j++)
            {
                var dRow = dOutput.AsSpan(picks[j] / k * h, h);
                dWeights[picks[j]] = TensorPrimitives.Dot(dRow, result.AsSpan(j * h, h));
                TensorPrimitives.Multiply(dRow, tape.Routing.Weights[picks[j]], dResult.AsSpan(j * h, h));
            }
            var dGathered = _experts[expert].Backward(picks.Length, mlpTape, dResult);
            for (int j = 0; j < picks.Length; j++)
            {
                var target = dInput.AsSpan(picks[j] / k * h, h);
                TensorPrimitives.Add(target, dGathered.AsSpan(j * h, h), target);
            }
        }
        var dLogits = tape.DLogits; // holds the auxiliary loss's share, if any
        ExpertRouter.WeightsBackward(_c, tape.Logits, tape.Routing, dWeights, rows, dLogits);
        Lora.WeightGrad.Accumulate(_router, dLogits, tape.Input, rows, e, h);
        DenseMatrix.InputGrad(dLogits, rows, _router.Value, e, h, dInput, accumulate: true);
        return dInput;
    }
}

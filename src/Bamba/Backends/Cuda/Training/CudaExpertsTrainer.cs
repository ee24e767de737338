using Bamba.Architectures;
using Bamba.Modeling;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Routed experts on the GPU (the CPU twin: Training.ExpertsTrainer). The forward is the CUDA inference path's: the
/// router's product in float32 on the device, its top-k on the host with the CPU's <see cref="ExpertRouter"/> (so every
/// backend picks the same experts), then each expert with work runs its MLP over the rows routed to it and adds them
/// back weighted. The backward goes through each expert's MLP and through the routing weights into the router: the
/// weights' gradients come back to the host, where <see cref="ExpertRouter.WeightsBackward"/> (softmax top-k, or
/// sigmoid scores normalised and scaled) turns them into the logits' gradient, the choice held fixed as in
/// transformers; the router auxiliary loss's share of that gradient is added on the host too, before the one upload.
/// Routing on the host synchronises the stream once per MoE layer and pass; experts run one after
/// another from the host, which suits training's tiny fixtures and is not the grouped-GEMM path of inference's prefill.
/// </summary>
internal sealed class CudaExpertsTrainer
{
    private readonly TrainContext _t;
    private readonly int _layer;
    private readonly ParameterSlice _router;
    private readonly float[] _choiceBias;
    private readonly CudaMlpTrainer[] _experts;

    public CudaExpertsTrainer(TrainContext t, int layer)
    {
        _t = t;
        _layer = layer;
        _router = t.Weight(TensorRole.Router, layer);
        // A buffer training never changes, so the host copy is the device's.
        _choiceBias = t.Set.Find(TensorRole.RouterBias, layer)?.Value ?? [];
        _experts = Enumerable.Range(0, t.Config.NumExperts).Select(Expert).ToArray();
    }

    /// <summary>An expert's gate, up and down: halves of a stacked [E, 2I, H] tensor, or per-expert matrices (squared ReLU).</summary>
    private CudaMlpTrainer Expert(int e)
    {
        var (set, c, name) = (_t.Set, _t.Config, _t.TapeName(_layer, $"e{e}."));
        if (set.Find(TensorRole.ExpertsGateUp, _layer) is { } stacked)
        {
            int half = c.ExpertIntermediateSize * c.HiddenSize, downs = set[TensorRole.ExpertsDown, _layer].Length / c.NumExperts;
            return new CudaMlpTrainer(_t, name, new ParameterSlice(stacked, 2 * half * e, half), new ParameterSlice(stacked, 2 * half * e + half, half),
                new ParameterSlice(set[TensorRole.ExpertsDown, _layer], downs * e, downs));
        }
        return new CudaMlpTrainer(_t, name, null, set[TensorRole.ExpertUp, _layer, e].Whole, set[TensorRole.ExpertDown, _layer, e].Whole);
    }

    /// <summary>One expert's work in a forward: its picks' rows, weights and routing slots on the device, its MLP tape and weighted-out result.</summary>
    public sealed record Run(int Expert, int Count, ulong Rows, ulong Weights, ulong Slots, CudaMlpTrainer.Tape Mlp, ulong Result);

    /// <summary>The router's input and float32 logits (host), the routing, each expert's run, and the logits' gradient (host).</summary>
    public sealed record Tape(ulong Input, float[] Logits, ExpertRouter.Routing Routing, List<Run> Runs, float[] DLogits) : IRouterTape;

    /// <summary>Overwrites <paramref name="acc"/> [rows, hidden] with Σ weight · expert(x) over each row's picks.</summary>
    public Tape Forward(int rows, ulong input, ulong acc)
    {
        var c = _t.Config;
        int h = c.HiddenSize, e = c.NumExperts;
        ulong logits = _t.Buffer(_t.TapeName(_layer, "router"), (long)rows * e);
        _t.Gemm.Forward(input, _router, logits, rows, e, h, float32: true);
        var hostLogits = _t.Kernels.Device.Download<float>(logits, (long)rows * e);
        var routing = ExpertRouter.Route(c, hostLogits, _choiceBias, rows);
        _t.Kernels.Device.Clear(acc, 4L * rows * h);
        var runs = new List<Run>();
        foreach (var (expert, picks) in FeedForward.ByExpert(routing, e))
        {
            string p = _t.TapeName(_layer, $"e{expert}.");
            int n = picks.Length;
            ulong tokens = _t.Upload(p + "rows", picks.Select(i => i / routing.K).ToArray());
            ulong weights = _t.Upload(p + "weights", picks.Select(i => routing.Weights[i]).ToArray());
            ulong slots = _t.Upload(p + "slots", picks);
            ulong gathered = _t.Buffer(p + "in", (long)n * h), result = _t.Buffer(p + "out", (long)n * h);
            _t.Kernels.GatherRows(input, h, tokens, gathered, n);
            var mlp = _experts[expert].Forward(n, gathered, result);
            _t.Kernels.ScatterAddWeighted(acc, result, h, tokens, weights, n);
            runs.Add(new Run(expert, n, tokens, weights, slots, mlp, result));
        }
        return new Tape(input, hostLogits, routing, runs, new float[rows * e]);
    }

    /// <summary>Accumulates the experts' and the router's gradients; returns the gradient of the input (valid until the next MoE backward).</summary>
    public ulong Backward(int rows, Tape tape, ulong dOutput)
    {
        var c = _t.Config;
        int h = c.HiddenSize, e = c.NumExperts, k = tape.Routing.K;
        ulong dInput = _t.Buffer("bwd.experts.dinput", (long)rows * h), dWeights = _t.Buffer("bwd.experts.dweights", (long)rows * k);
        _t.Kernels.Device.Clear(dInput, 4L * rows * h);
        foreach (var run in tape.Runs)
        {
            ulong dResult = _t.Buffer("bwd.experts.dresult", (long)run.Count * h);
            _t.Ops.ExpertOutputBackward(dOutput, run.Result, h, run.Rows, run.Weights, run.Slots, dResult, dWeights, run.Count);
            ulong dGathered = _experts[run.Expert].Backward(run.Count, run.Mlp, dResult);
            _t.Ops.ScatterAddRows(dInput, dGathered, h, run.Rows, run.Count);
        }
        // Every slot of the routing was written above: each (row, slot) is one pick of one expert.
        var dw = _t.Kernels.Device.Download<float>(dWeights, (long)rows * k);
        var dLogits = tape.DLogits; // holds the auxiliary loss's share, if any (RouterAuxLoss, on the host as on the CPU)
        ExpertRouter.WeightsBackward(c, tape.Logits, tape.Routing, dw, rows, dLogits);
        ulong dLogitsOnDevice = _t.Upload("bwd.experts.dlogits", dLogits);
        _t.Gemm.WeightGrad(dLogitsOnDevice, tape.Input, _router, rows, e, h, float32: true);
        _t.Gemm.InputGrad(dLogitsOnDevice, _router, dInput, rows, e, h, accumulate: true, float32: true);
        return dInput;
    }
}

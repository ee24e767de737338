using Bamba.Modeling;

namespace Bamba.Backends.Cuda;

/// <summary>
/// A mixture-of-experts feed-forward: the router's product in float32 on the device, then the device's top-k
/// (<see cref="CudaOps.Route"/>, the CPU router's choices and weights) and the routed experts (decode rows: GEMVs that
/// read only the chosen experts; prefill rows in bf16: grouped tensor-core GEMMs), the shared expert beside them. No
/// copy to the host and no launch shape that depends on the routing, so the layer is captured in decode's CUDA graph.
/// Quantized experts keep the host's routing and a launch per used expert (their GEMVs read their own formats).
/// </summary>
public sealed partial class CudaModel
{
    /// <summary>
    /// Sees every MoE layer's routing, in layer order: lets the tests tell a bf16 result that differs because a
    /// near-tie between experts went the other way from one that differs for any other reason. Setting it makes each
    /// MoE layer read its routing back (a synchronisation): for tests only.
    /// </summary>
    internal Action<ExpertRouter.Routing>? RoutingObserver { get; set; }

    /// <summary>Whether every MoE layer routes and runs its experts on the device (what decode's CUDA graph needs).</summary>
    private bool ExpertsOnDevice => _weights.Layers.All(l => l.Experts is null || l.Experts.Tables is not null);

    private void Experts(CudaWeights.Experts w, CudaWeights.Mlp? shared, ulong normed, ulong output, int rows, ulong rowAdapters)
    {
        var c = Config;
        int h = c.HiddenSize, k = c.NumExpertsPerToken;
        ulong logits = _ops.RouterLogits(normed, w.Router, rows);
        if (w.Tables is not { } tables)
        {
            HostRoutedExperts(w, shared, normed, output, rows, logits, rowAdapters);
            return;
        }
        ulong experts = _ops.Scratch.Get("moe.chosen", 4L * rows * k), weights = _ops.Scratch.Get("moe.weights", 4L * rows * k);
        _ops.Route(c, logits, w.RouterBiasOnDevice, experts, weights, rows);
        if (RoutingObserver is { } observe)
            observe(new ExpertRouter.Routing(_ops.Device.Download<int>(experts, (long)rows * k), _ops.Device.Download<float>(weights, (long)rows * k), k));
        ulong sharedOut = 0;
        if (shared is not null) Mlp(shared, normed, sharedOut = Act("experts.shared", (long)rows * h), rows, "mlp", rowAdapters);
        if (_ops.Precision == CudaPrecision.BFloat16 && rows > KernelConstants.GemvMaxRows)
            _ops.ExpertsGrouped(tables, c.NumExperts, normed, experts, weights, sharedOut, output, rows, k, h);
        else _ops.ExpertsGemv(tables, normed, experts, weights, sharedOut, output, rows, k, h);
    }

    /// <summary>
    /// Quantized experts: the top-k on the host (<see cref="ExpertRouter"/>), then each expert with work runs its MLP
    /// over the rows routed to it and adds them back weighted, in a float32 sum; the shared expert adds to that.
    /// Reading the routing back synchronises the stream, so such a model's decode is not captured in a CUDA graph.
    /// </summary>
    private void HostRoutedExperts(CudaWeights.Experts w, CudaWeights.Mlp? shared, ulong normed, ulong output, int rows, ulong logits,
        ulong rowAdapters)
    {
        var c = Config;
        int h = c.HiddenSize, e = c.NumExperts;
        var routing = ExpertRouter.Route(c, _ops.Device.Download<float>(logits, (long)rows * e), w.RouterBias, rows);
        RoutingObserver?.Invoke(routing);
        ulong acc = _ops.Scratch.Get("experts.acc", 4L * rows * h);
        _ops.Device.Clear(acc, 4L * rows * h);
        foreach (var (expert, picks) in Modeling.FeedForward.ByExpert(routing, e))
        {
            // One stream: each upload lands after the previous expert's launches have read the buffers it reuses.
            ulong tokens = Upload("experts.rows", picks.Select(p => p / routing.K).ToArray());
            ulong weights = Upload("experts.weights", picks.Select(p => routing.Weights[p]).ToArray());
            ulong gathered = Act("experts.in", (long)picks.Length * h), result = Act("experts.out", (long)picks.Length * h);
            _ops.GatherActRows(normed, h, tokens, gathered, picks.Length);
            Mlp(w.Each[expert], gathered, result, picks.Length, "experts.hidden", rowAdapters: 0); // routed experts take no adapters
            _ops.ScatterAddWeighted(acc, result, h, tokens, weights, picks.Length);
        }
        ulong sharedOut = 0;
        if (shared is not null) Mlp(shared, normed, sharedOut = Act("experts.shared", (long)rows * h), rows, "mlp", rowAdapters);
        _ops.ExpertsFinish(acc, sharedOut, output, (long)rows * h);
    }
}

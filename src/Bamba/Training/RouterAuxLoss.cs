using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Training;

/// <summary>
/// One MoE layer's routing in a training forward, on the host (both devices route there): the router's logits
/// [rows, E], the experts chosen, and the logits' gradient [rows, E], zero after the forward, that the auxiliary loss
/// adds its share to before the layer's backward adds the routing weights' share and runs the router's backward.
/// </summary>
internal interface IRouterTape
{
    float[] Logits { get; }
    ExpertRouter.Routing Routing { get; }
    float[] DLogits { get; }
}

/// <summary>
/// transformers' router auxiliary loss for Granite 4.0 H (<c>load_balancing_loss_func</c>, Switch Transformer eqs.
/// 4–6): the router logits of every MoE layer concatenated ([layers·rows, E]), softmax, the top-k experts per row;
/// <c>E · Σ_e f_e · P_e</c> with f_e the share of the rows' top-k picks that went to expert e and P_e the mean
/// routing probability of e. The picks pass no gradient (a one-hot of top-k indices); the probabilities do.
/// The training batch is packed padding-free, so every row is a real token: the mask is all ones, which is
/// transformers' <c>attention_mask=None</c> (labels of −100 do not mask: the aux loss never reads labels).
/// Nemotron-H has no auxiliary loss in transformers (its sigmoid router balances with <c>e_score_correction_bias</c>).
/// </summary>
public static class RouterAuxLoss
{
    /// <summary>transformers' default: the config's coefficient when its <c>output_router_logits</c> is true, else 0 (off).</summary>
    public static double DefaultCoefficient(BambaConfig c) => Applies(c) && c.OutputRouterLogits ? c.RouterAuxLossCoefficient : 0;

    /// <summary>
    /// The coefficient a run trains with: <paramref name="requested"/> if given (0 = off), else the default. Throws a
    /// <see cref="BambaException"/> when one is requested for a model that has no such loss.
    /// </summary>
    public static double Coefficient(BambaConfig c, double? requested)
    {
        if (requested is not double value) return DefaultCoefficient(c);
        if (!Applies(c))
            throw new BambaException(c.RouterScoring == RouterScoring.SigmoidGrouped && c.HasMixtureOfExperts
                ? $"--router-aux-loss-coef: '{c.ModelType}' has no router auxiliary loss in transformers (its sigmoid router is balanced by e_score_correction_bias)"
                : $"--router-aux-loss-coef: this '{c.ModelType}' model has no routed experts, so no router auxiliary loss");
        if (!double.IsFinite(value) || value < 0) throw new BambaException($"--router-aux-loss-coef expects a number ≥ 0, got {value}");
        return value;
    }

    /// <summary>The loss exists for softmax-routed experts (Granite 4.0 H's <c>num_local_experts</c> &gt; 0).</summary>
    private static bool Applies(BambaConfig c) => c.HasMixtureOfExperts && c.RouterScoring == RouterScoring.SoftmaxTopK;

    /// <summary>
    /// The loss of one forward over <paramref name="layers"/> (each [rows, E]); adds <c>scale · ∂loss/∂logits</c> to each
    /// layer's <see cref="IRouterTape.DLogits"/>. The picks counted are the router's own (top-k of the logits, the
    /// order softmax keeps), so the loss balances exactly the experts the forward ran.
    /// </summary>
    internal static double ForwardBackward(IReadOnlyList<IRouterTape> layers, int rows, int experts, float scale)
    {
        if (layers.Count == 0) return 0;
        double n = (double)layers.Count * rows;
        var picks = new double[experts];
        var probabilitySums = new double[experts];
        var probabilities = layers.Select(t => Softmax(t.Logits, rows, experts)).ToArray();
        foreach (var t in layers)
            foreach (int e in t.Routing.Experts) picks[e]++;
        foreach (var p in probabilities)
            for (int i = 0; i < p.Length; i++) probabilitySums[i % experts] += p[i];
        double loss = 0;
        for (int e = 0; e < experts; e++) loss += picks[e] / n * (probabilitySums[e] / n);
        loss *= experts;
        // ∂loss/∂p[row, e] = E · f_e / n for every row of every layer; then through each row's softmax.
        var g = picks.Select(count => scale * experts * (count / n) / n).ToArray();
        for (int l = 0; l < layers.Count; l++) SoftmaxBackward(probabilities[l], g, rows, experts, layers[l].DLogits);
        return loss;
    }

    private static double[] Softmax(float[] logits, int rows, int experts)
    {
        var p = new double[rows * experts];
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * experts, experts);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in row) max = Math.Max(max, v);
            for (int e = 0; e < experts; e++) sum += p[r * experts + e] = Math.Exp(row[e] - max);
            for (int e = 0; e < experts; e++) p[r * experts + e] /= sum;
        }
        return p;
    }

    /// <summary><c>dLogits[r, j] += p_j · (g_j − Σ_e p_e g_e)</c>.</summary>
    private static void SoftmaxBackward(double[] p, double[] g, int rows, int experts, float[] dLogits)
    {
        for (int r = 0; r < rows; r++)
        {
            double dot = 0;
            for (int e = 0; e < experts; e++) dot += p[r * experts + e] * g[e];
            for (int e = 0; e < experts; e++) dLogits[r * experts + e] += (float)(p[r * experts + e] * (g[e] - dot));
        }
    }
}

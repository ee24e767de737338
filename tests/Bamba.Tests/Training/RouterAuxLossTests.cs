using Bamba.Configuration;
using Bamba.Training;
using Bamba.Weights;
using Xunit.Abstractions;

namespace Bamba.Tests.Training;

/// <summary>
/// The router auxiliary loss of Granite 4.0 H's experts in CPU training: its value against transformers'
/// load_balancing_loss_func written out plainly here, its gradient against central finite differences, and that
/// with it off the loss and gradients are exactly those without it.
/// </summary>
public class RouterAuxLossTests(ITestOutputHelper output)
{
    private const string Model = "tiny-granite-moe-hybrid";

    internal static TrainableModel Load(Func<BambaConfig, BambaConfig>? edit = null)
    {
        string dir = Fixtures.Model(Model);
        var config = BambaConfigReader.Load(dir);
        using var store = WeightStore.Open(dir);
        return new TrainableModel(ParameterSet.FromStore(edit is null ? config : edit(config), store));
    }

    /// <summary>Two sequences packed in one row, one label ignored (the aux loss counts every row all the same).</summary>
    internal static TrainingBatch Batch(int vocab)
    {
        var rng = new Random(11);
        var sequences = new[] { 13, 6 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray()).ToList();
        var labels = sequences.Select(s => s.Select((t, i) => i == 2 ? TrainingBatch.IgnoreIndex : t).ToArray()).ToList();
        return new TrainingBatch(sequences, labels);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)] // the fixture's own top-k
    [InlineData(3)]
    public void ValueIsTransformersLoadBalancingLoss(int topK)
    {
        var model = Load(c => c with { NumExpertsPerToken = topK });
        var batch = Batch(model.Config.VocabSize);
        var routerLogits = model.Forward(batch).Saved.Select(t => t.Router).OfType<IRouterTape>().Select(r => r.Logits).ToList();
        Assert.Equal(model.Config.NumHiddenLayers, routerLogits.Count); // every layer of the fixture has experts

        var sums = model.ForwardBackward(batch, 0f, 0f, auxScale: 1f);

        double expected = LoadBalancingLoss(routerLogits, model.Config.NumExperts, topK);
        output.WriteLine($"top-{topK}: aux {sums.AuxLoss:R}, plain {expected:R}");
        Assert.Equal(1, sums.RouterAuxForwards);
        Assert.Equal(expected, sums.AuxLoss!.Value, 1e-12);
    }

    /// <summary>
    /// transformers' load_balancing_loss_func with attention_mask None, line by line, in double: concatenate the layers'
    /// logits, softmax, top-k of the probabilities, one-hot [N, k, E]; tokens_per_expert = its mean over N ([k, E]);
    /// router_prob_per_expert = the probabilities' mean over N ([E]); Σ tokens_per_expert · router_prob_per_expert × E.
    /// </summary>
    private static double LoadBalancingLoss(IReadOnlyList<float[]> layerLogits, int numExperts, int topK)
    {
        var concatenated = layerLogits.SelectMany(l => l).ToArray();
        int n = concatenated.Length / numExperts;
        var routingWeights = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var row = concatenated.AsSpan(t * numExperts, numExperts).ToArray();
            double max = row.Max();
            var exp = row.Select(v => Math.Exp(v - max)).ToArray();
            routingWeights[t] = exp.Select(v => v / exp.Sum()).ToArray();
        }
        var expertMask = new double[n, topK, numExperts];
        for (int t = 0; t < n; t++)
        {
            var selected = Enumerable.Range(0, numExperts).OrderByDescending(e => routingWeights[t][e]).Take(topK).ToArray();
            for (int j = 0; j < topK; j++) expertMask[t, j, selected[j]] = 1;
        }
        var tokensPerExpert = new double[topK, numExperts];
        var routerProbPerExpert = new double[numExperts];
        for (int t = 0; t < n; t++)
            for (int e = 0; e < numExperts; e++)
            {
                routerProbPerExpert[e] += routingWeights[t][e] / n;
                for (int j = 0; j < topK; j++) tokensPerExpert[j, e] += expertMask[t, j, e] / n;
            }
        double overall = 0;
        for (int j = 0; j < topK; j++)
            for (int e = 0; e < numExperts; e++) overall += tokensPerExpert[j, e] * routerProbPerExpert[e];
        return overall * numExperts;
    }

    /// <summary>
    /// The aux loss alone (no cross-entropy) differentiated: along each router's gradient, along the embedding table's
    /// (the layers' input), and at single router weights, against central differences of the aux loss's forward.
    /// </summary>
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var model = Load();
        var batch = Batch(model.Config.VocabSize);
        model.ForwardBackward(batch, 0f, 0f, auxScale: 1f);
        var parameters = model.Parameters;
        var routers = parameters.All.Where(p => p.Name.EndsWith("router.layer.weight", StringComparison.Ordinal)).ToList();
        Assert.Equal(model.Config.NumHiddenLayers, routers.Count);
        var gradients = parameters.All.ToDictionary(p => p.Name, p => (float[])p.Grad.Clone());

        foreach (var p in routers.Append(parameters[Architectures.TensorRole.Embedding]))
        {
            var grad = gradients[p.Name];
            double norm = Math.Sqrt(grad.Sum(g => (double)g * g));
            Assert.True(norm > 0, $"{p.Name}: no gradient from the aux loss");
            double numeric = Directional(model, batch, p, grad.Select(g => (float)(g / norm)).ToArray());
            output.WriteLine($"{p.Name}: |grad| {norm:E6}, finite difference {numeric:E6}");
            Assert.True(Math.Abs(numeric - norm) <= 1e-3 * norm, $"{p.Name}: |grad| {norm:E6}, finite difference {numeric:E6}");
        }
        // Single elements: the first router's three largest gradients and the embedding table's largest (an input element).
        foreach (var (p, count) in new[] { (routers[0], 3), (parameters[Architectures.TensorRole.Embedding], 1) })
            foreach (int i in Enumerable.Range(0, p.Length).OrderByDescending(i => Math.Abs(gradients[p.Name][i])).Take(count))
            {
                var unit = new float[p.Length];
                unit[i] = 1f;
                double numeric = Directional(model, batch, p, unit), analytic = gradients[p.Name][i];
                output.WriteLine($"{p.Name}[{i}]: grad {analytic:E6}, finite difference {numeric:E6}");
                Assert.True(Math.Abs(numeric - analytic) <= 1e-3 * Math.Abs(analytic), $"{p.Name}[{i}]: grad {analytic:E6}, finite difference {numeric:E6}");
            }
    }

    /// <summary>
    /// (aux(p + h·d) − aux(p − h·d)) / 2h, each from a forward; the experts chosen must not change within ±h (at
    /// h = 1e-2 some do, at 1e-3 none). The forwards are float32: their rounding in the aux loss (≈ 2), divided by 2h,
    /// stays near 1e-6, which is 1e-4 of these gradients (1e-3 to 5e-2); the tolerance is 1e-3 of each.
    /// </summary>
    private static double Directional(TrainableModel model, TrainingBatch batch, Parameter p, float[] direction)
    {
        var saved = (float[])p.Value.Clone();
        var choice = Choice(model, batch);
        const float h = 1e-3f;
        double Shifted(float sign)
        {
            for (int i = 0; i < p.Length; i++) p.Value[i] = saved[i] + sign * h * direction[i];
            var routers = model.Forward(batch).Saved.Select(t => t.Router).OfType<IRouterTape>().ToList();
            Assert.Equal(choice, routers.SelectMany(r => r.Routing.Experts)); // top-k is piecewise constant: stay on one piece
            return RouterAuxLoss.ForwardBackward(routers, batch.Rows, model.Config.NumExperts, 0f);
        }
        double numeric = (Shifted(+1) - Shifted(-1)) / (2 * h);
        saved.CopyTo(p.Value, 0);
        return numeric;
    }

    private static int[] Choice(TrainableModel model, TrainingBatch batch) =>
        model.Forward(batch).Saved.Select(t => t.Router).OfType<IRouterTape>().SelectMany(r => r.Routing.Experts).ToArray();

    /// <summary>
    /// transformers adds coef × aux only with output_router_logits: off (the fixture's false, or a coefficient of 0),
    /// the loss and every gradient are bit for bit those of the loss without it; on, the loss gains coef × aux and the
    /// gradients coef × the aux loss's own.
    /// </summary>
    [Fact]
    public void OffIsExactlyTheLossWithoutItAndOnAddsCoefTimesAux()
    {
        var baseline = Load();
        var batch = Batch(baseline.Config.VocabSize);
        float ceScale = 1f / batch.TargetCount;
        double baseLoss = baseline.ForwardBackward(batch, ceScale, 0f).Loss(0);
        Assert.False(baseline.Config.OutputRouterLogits);
        Assert.Equal(0.001, baseline.Config.RouterAuxLossCoefficient);

        foreach (var off in new[] { Load(), Load(c => c with { OutputRouterLogits = true, RouterAuxLossCoefficient = 0 }) })
        {
            Assert.Equal(baseLoss, off.LossAndGradients(batch));
            foreach (var p in baseline.Parameters.All) Assert.Equal(p.Grad, off.Parameters[p.Name].Grad);
        }

        const double coef = 0.5;
        var on = Load(c => c with { OutputRouterLogits = true, RouterAuxLossCoefficient = coef });
        var auxOnly = Load();
        double aux = auxOnly.ForwardBackward(batch, 0f, 0f, auxScale: 1f).AuxLoss!.Value;
        Assert.Equal(baseLoss + coef * aux, on.LossAndGradients(batch), 1e-12);
        foreach (var p in baseline.Parameters.All)
        {
            var expected = p.Grad.Select((g, i) => g + (float)coef * auxOnly.Parameters[p.Name].Grad[i]).ToArray();
            Tolerance.AssertClose(expected, on.Parameters[p.Name].Grad, 1e-5, $"grad.{p.Name} with the aux loss");
        }
        Assert.NotEqual(baseline.Parameters[Architectures.TensorRole.Embedding].Grad, on.Parameters[Architectures.TensorRole.Embedding].Grad); // the aux loss reaches the embeddings
    }

    [Fact]
    public void CoefficientFollowsTransformersAndIsRefusedWhereThereIsNoSuchLoss()
    {
        var granite = BambaConfigReader.Load(Fixtures.Model(Model));
        Assert.Equal(0, RouterAuxLoss.Coefficient(granite, null)); // output_router_logits false: off
        Assert.Equal(0.001, RouterAuxLoss.Coefficient(granite with { OutputRouterLogits = true }, null));
        Assert.Equal(0.02, RouterAuxLoss.Coefficient(granite, 0.02));
        Assert.Equal(0, RouterAuxLoss.Coefficient(granite with { OutputRouterLogits = true }, 0));

        var nemotron = BambaConfigReader.Load(Fixtures.Model("tiny-nemotron-h"));
        Assert.Equal(0, RouterAuxLoss.Coefficient(nemotron, null));
        Assert.Contains("e_score_correction_bias", Assert.Throws<BambaException>(() => RouterAuxLoss.Coefficient(nemotron, 0.01)).Message);
        foreach (string dense in new[] { "tiny-bamba", "tiny-granite-hybrid-dense-rope" })
            Assert.Contains("no routed experts", Assert.Throws<BambaException>(() => RouterAuxLoss.Coefficient(BambaConfigReader.Load(Fixtures.Model(dense)), 0.01)).Message);
    }
}

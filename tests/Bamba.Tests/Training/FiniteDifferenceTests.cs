using Bamba.Configuration;
using Bamba.Tests.Modeling;
using Bamba.Training;
using Bamba.Weights;

namespace Bamba.Tests.Training;

/// <summary>
/// Cases the fixtures' gradients do not cover — small-bamba's sequences span several scan chunks, a non-zero z-loss,
/// a tied head — checked per parameter tensor against a central finite difference along the gradient's direction.
/// </summary>
public class FiniteDifferenceTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryTensorsGradientMatchesAFiniteDifference(bool tied)
    {
        string dir = Fixtures.Model("small-bamba");
        var config = BambaConfigReader.Load(dir) with { ZLossCoefficient = 1e-2, TieWordEmbeddings = tied };
        ParameterSet parameters;
        using (var store = WeightStore.Open(dir)) parameters = ParameterSet.FromStore(config, store);
        var model = new TrainableModel(parameters);
        using var reference = new Reference("small-bamba");
        var single = reference.Rows("single.input_ids")[0]; // 130 tokens: five chunks of 32
        var batch = new TrainingBatch([single, reference.Rows("batch2.input_ids")[1][..45]]);

        model.LossAndGradients(batch);
        foreach (var p in parameters.All)
        {
            double norm = Math.Sqrt(p.Grad.Sum(g => (double)g * g));
            if (norm == 0) continue;
            var direction = p.Grad.Select(g => (float)(g / norm)).ToArray();
            var saved = (float[])p.Value.Clone();
            const float h = 2e-3f;
            double Shifted(float sign)
            {
                for (int i = 0; i < p.Length; i++) p.Value[i] = saved[i] + sign * h * direction[i];
                var sums = model.Evaluate(batch);
                return sums.Loss(config.ZLossCoefficient);
            }
            double numeric = (Shifted(+1) - Shifted(-1)) / (2 * h);
            saved.CopyTo(p.Value, 0);
            Assert.True(Math.Abs(numeric - norm) <= 2e-3 + 0.02 * norm, $"{p.Name}: |grad| {norm:E4}, finite difference {numeric:E4}");
        }
    }
}

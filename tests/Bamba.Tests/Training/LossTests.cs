using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary>The loss and its logit gradient, including transformers' Bamba z-loss, against finite differences.</summary>
public class LossTests
{
    [Fact]
    public void CrossEntropyPlusZLossGradientMatchesFiniteDifferences()
    {
        const int vocab = 7;
        var batch = new TrainingBatch([[1, 4, 2, 6]], [[1, 4, TrainingBatch.IgnoreIndex, 6]]);
        var rng = new Random(3);
        var logits = Enumerable.Range(0, batch.Rows * vocab).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        const double z = 0.3;
        float ceScale = 1f / batch.TargetCount, zScale = (float)(z / batch.Rows);

        var grad = (float[])logits.Clone();
        var sums = CausalLmLoss.ForwardBackward(grad, vocab, batch, ceScale, zScale);

        Assert.Equal(2, sums.Targets); // position 0 → 4, position 2 → 6; 1 → ignored label, 3 → end of sequence
        Assert.Equal(ReferenceLoss(logits, vocab, batch, z), sums.Loss(z), 1e-6); // float32 logits: differences start near 1e-7
        for (int i = 0; i < logits.Length; i++)
        {
            const float h = 1e-3f;
            var plus = (float[])logits.Clone(); plus[i] += h;
            var minus = (float[])logits.Clone(); minus[i] -= h;
            double numeric = (ReferenceLoss(plus, vocab, batch, z) - ReferenceLoss(minus, vocab, batch, z)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) < 1e-4, $"logit {i}: analytic {grad[i]}, numeric {numeric}");
        }
    }

    /// <summary>transformers: mean CE over targets + z · mean over every position of logsumexp², in double.</summary>
    private static double ReferenceLoss(float[] logits, int vocab, TrainingBatch batch, double z)
    {
        double ce = 0, zSum = 0;
        int targets = 0;
        for (int r = 0; r < batch.Rows; r++)
        {
            var row = logits.AsSpan(r * vocab, vocab).ToArray().Select(v => (double)v).ToArray();
            double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
            zSum += lse * lse;
            int t = batch.Target(r);
            if (t == TrainingBatch.IgnoreIndex) continue;
            ce += lse - row[t];
            targets++;
        }
        return ce / targets + z * zSum / batch.Rows;
    }
}

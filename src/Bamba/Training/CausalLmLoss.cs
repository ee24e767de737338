using System.Numerics.Tensors;

namespace Bamba.Training;

/// <summary>
/// Sums of one batch's loss terms (normalised by the caller, who knows the counts of a whole step); the router
/// auxiliary loss is summed over the forwards that computed it (one per packed row when it is on).
/// </summary>
public readonly record struct LossSums(double CrossEntropy, int Targets, double ZSquared, int Positions, double RouterAux = 0, int RouterAuxForwards = 0)
{
    public static LossSums operator +(LossSums a, LossSums b) =>
        new(a.CrossEntropy + b.CrossEntropy, a.Targets + b.Targets, a.ZSquared + b.ZSquared, a.Positions + b.Positions,
            a.RouterAux + b.RouterAux, a.RouterAuxForwards + b.RouterAuxForwards);

    /// <summary>The router auxiliary loss (before its coefficient), the mean over the forwards; null when it was off.</summary>
    public double? AuxLoss => RouterAuxForwards > 0 ? RouterAux / RouterAuxForwards : null;

    /// <summary>transformers' loss: mean cross-entropy over targets + z_loss_coefficient · mean over all positions of logsumexp².</summary>
    public double Loss(double zLossCoefficient) =>
        CrossEntropy / Math.Max(1, Targets) + (zLossCoefficient > 0 ? zLossCoefficient * ZSquared / Math.Max(1, Positions) : 0);

    /// <summary>The objective trained: <see cref="Loss"/> + the router auxiliary loss × its coefficient (when it was on).</summary>
    public double Objective(double zLossCoefficient, double routerAuxCoefficient) => Loss(zLossCoefficient) + routerAuxCoefficient * (AuxLoss ?? 0);
}

/// <summary>
/// Next-token cross-entropy (labels −100 ignored) plus transformers' Bamba z-loss, which squares the logsumexp at every
/// position (ignored labels included) and averages over all of them.
/// </summary>
public static class CausalLmLoss
{
    /// <summary>
    /// Computes the loss sums and overwrites <paramref name="logits"/> [rows, vocab] with
    /// <c>ceScale·d(Σ CE)/dlogits + zScale·d(Σ lse²)/dlogits</c>.
    /// </summary>
    public static LossSums ForwardBackward(float[] logits, int vocab, TrainingBatch batch, float ceScale, float zScale)
    {
        int rows = batch.Rows;
        var ce = new double[rows];
        var z = new double[rows];
        var targeted = new bool[rows];
        Parallel.For(0, rows, r =>
        {
            var row = logits.AsSpan(r * vocab, vocab);
            int target = batch.Target(r);
            float max = TensorPrimitives.Max(row);
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.Exp(row[i] - max);
            double lse = max + Math.Log(sum);
            z[r] = lse * lse;
            if (target != TrainingBatch.IgnoreIndex)
            {
                if ((uint)target >= (uint)vocab) throw new BambaException($"label {target} is outside the vocabulary (0..{vocab - 1})");
                ce[r] = lse - row[target];
                targeted[r] = true;
            }
            // d(lse)/dlogit = softmax; d(lse²) = 2·lse·softmax; d(CE) = softmax − onehot.
            float perSoftmax = (targeted[r] ? ceScale : 0f) + zScale * 2f * (float)lse;
            for (int i = 0; i < vocab; i++) row[i] = (float)Math.Exp(row[i] - lse) * perSoftmax;
            if (targeted[r]) row[target] -= ceScale;
        });
        return new LossSums(ce.Sum(), targeted.Count(t => t), z.Sum(), rows);
    }
}

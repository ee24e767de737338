using Bamba.Configuration;

namespace Bamba.Modeling;

/// <summary>
/// Which experts each token goes to and with what weight, from the router's logits ([rows, E]). The choice is not
/// differentiable; the weights are, and <see cref="WeightsBackward"/> turns their gradient into the logits' gradient.
/// </summary>
public static class ExpertRouter
{
    /// <summary>Per row, <c>k</c> expert indices and their weights (row-major [rows, k]).</summary>
    public sealed record Routing(int[] Experts, float[] Weights, int K);

    public static Routing Route(BambaConfig c, ReadOnlySpan<float> logits, ReadOnlySpan<float> choiceBias, int rows)
    {
        int e = c.NumExperts, k = c.NumExpertsPerToken;
        var experts = new int[rows * k];
        var weights = new float[rows * k];
        var scores = new float[e];
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * e, e);
            var chosen = experts.AsSpan(r * k, k);
            var w = weights.AsSpan(r * k, k);
            if (c.RouterScoring == RouterScoring.SoftmaxTopK)
            {
                TopK(row, chosen);
                Softmax(row, chosen, w);
            }
            else
            {
                for (int j = 0; j < e; j++) scores[j] = Sigmoid(row[j]) + (choiceBias.IsEmpty ? 0f : choiceBias[j]);
                MaskUnchosenGroups(c, scores);
                TopK(scores, chosen);
                for (int j = 0; j < k; j++) w[j] = Sigmoid(row[chosen[j]]);
                Normalize(c, w);
            }
        }
        return new Routing(experts, weights, k);
    }

    /// <summary>
    /// Gradient of the routing weights ([rows, k]) into the gradient of the logits ([rows, E]), the choice held fixed:
    /// softmax over the chosen logits (Granite), or sigmoid scores normalised and scaled (Nemotron-H).
    /// </summary>
    public static void WeightsBackward(BambaConfig c, ReadOnlySpan<float> logits, Routing routing, ReadOnlySpan<float> dWeights, int rows, Span<float> dLogits)
    {
        int e = c.NumExperts, k = routing.K;
        Span<float> s = stackalloc float[k];
        for (int r = 0; r < rows; r++)
        {
            var chosen = routing.Experts.AsSpan(r * k, k);
            var w = routing.Weights.AsSpan(r * k, k);
            var dw = dWeights.Slice(r * k, k);
            var dl = dLogits.Slice(r * e, e);
            if (c.RouterScoring == RouterScoring.SoftmaxTopK)
            {
                float dot = 0f;
                for (int j = 0; j < k; j++) dot += w[j] * dw[j];
                for (int j = 0; j < k; j++) dl[chosen[j]] += w[j] * (dw[j] - dot);
                continue;
            }
            float sum = 0f, scale = (float)c.RoutedScalingFactor;
            for (int j = 0; j < k; j++) { s[j] = Sigmoid(logits[r * e + chosen[j]]); sum += s[j]; }
            float denominator = c.NormalizeTopKWeights ? sum + 1e-20f : 1f, cross = 0f;
            if (c.NormalizeTopKWeights) for (int j = 0; j < k; j++) cross += dw[j] * s[j];
            for (int j = 0; j < k; j++)
            {
                // w_j = scale·s_j / S  ⇒  ∂L/∂s_j = scale·(dw_j / S − Σ_i dw_i s_i / S²)
                float ds = scale * (dw[j] / denominator - (c.NormalizeTopKWeights ? cross / (denominator * denominator) : 0f));
                dl[chosen[j]] += ds * s[j] * (1f - s[j]);
            }
        }
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>The k largest values' indices, largest first; ties go to the lower index.</summary>
    private static void TopK(ReadOnlySpan<float> values, Span<int> chosen)
    {
        for (int j = 0; j < chosen.Length; j++)
        {
            int best = -1;
            for (int i = 0; i < values.Length; i++)
                if (chosen[..j].IndexOf(i) < 0 && (best < 0 || values[i] > values[best])) best = i;
            chosen[j] = best;
        }
    }

    private static void Softmax(ReadOnlySpan<float> logits, ReadOnlySpan<int> chosen, Span<float> w)
    {
        float max = logits[chosen[0]], sum = 0f;
        for (int j = 0; j < w.Length; j++) { w[j] = MathF.Exp(logits[chosen[j]] - max); sum += w[j]; }
        for (int j = 0; j < w.Length; j++) w[j] /= sum;
    }

    private static void Normalize(BambaConfig c, Span<float> w)
    {
        if (c.NormalizeTopKWeights)
        {
            float sum = 1e-20f;
            foreach (float v in w) sum += v;
            for (int j = 0; j < w.Length; j++) w[j] /= sum;
        }
        for (int j = 0; j < w.Length; j++) w[j] *= (float)c.RoutedScalingFactor;
    }

    /// <summary>DeepSeek-V3's group limit: a group scores the sum of its two best experts; only the best
    /// <c>topk_group</c> groups stay eligible (the others' scores become 0, below any sigmoid score).</summary>
    private static void MaskUnchosenGroups(BambaConfig c, Span<float> scores)
    {
        int groups = c.RouterGroups, size = c.NumExperts / groups;
        if (groups == 1) return;
        Span<float> groupScores = stackalloc float[groups];
        Span<int> best = stackalloc int[Math.Min(2, size)];
        for (int g = 0; g < groups; g++)
        {
            var part = scores.Slice(g * size, size);
            TopK(part, best);
            groupScores[g] = 0f;
            foreach (int i in best) groupScores[g] += part[i];
        }
        Span<int> keep = stackalloc int[c.RouterTopKGroups];
        TopK(groupScores, keep);
        for (int g = 0; g < groups; g++)
            if (keep.IndexOf(g) < 0) scores.Slice(g * size, size).Clear();
    }
}

using Bamba.Backends.Cpu;
using Bamba.Configuration;
using System.Numerics.Tensors;

namespace Bamba.Modeling;

/// <summary>The CPU's inference ops for <see cref="LayerStack"/>: float32 rows over the model's weights in their stored dtype.</summary>
internal sealed class CpuInferenceOps(BambaConfig config, ModelWeights weights, Rope rope) : IInferenceOps<TokenBatch, float[]>
{
    public void Norm(TokenBatch batch, int layer, NormSite site, float[] x, float[] delta, bool addFirst, float[] normed)
    {
        if (addFirst) AddResidual(batch, x, delta);
        var w = weights.Layers[layer];
        Norms.RmsNorm(x, site == NormSite.Mixer ? w.MixerNorm : w.FeedForwardNorm, (float)config.RmsNormEps, normed);
    }

    public void Mamba(TokenBatch batch, int layer, float[] normed, float[] output) =>
        MambaMixer.Forward(config, weights.Layers[layer].Mamba!, layer, batch, normed, output);

    public void Attention(TokenBatch batch, int layer, float[] normed, float[] output) =>
        AttentionMixer.Forward(config, weights.Layers[layer].Attention!, layer, rope, batch, normed, output);

    public void FeedForward(TokenBatch batch, int layer, float[] normed, float[] output) =>
        Modeling.FeedForward.Forward(config, weights.Layers[layer], normed, batch.Rows, output, batch.Adapters);

    public void AddResidual(TokenBatch batch, float[] x, float[] delta)
    {
        if (config.ResidualMultiplier == 1.0) TensorPrimitives.Add(x, delta, x);
        else TensorPrimitives.MultiplyAdd(delta, (float)config.ResidualMultiplier, x, x);
    }
}

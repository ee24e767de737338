using Bamba.Configuration;

namespace Bamba.Modeling;

/// <summary>Which of a layer's two norms: the one before its mixer, or the one before its feed-forward.</summary>
internal enum NormSite { Mixer, FeedForward }

/// <summary>
/// The ops one device runs an inference forward with, over its activations (<typeparamref name="TAct"/>: rows ×
/// hidden, the residual stream float32) for one call's packed runs (<typeparamref name="TBatch"/>). Each op finds
/// layer <c>layer</c>'s weights itself. The order they run in is <see cref="LayerStack"/>'s, the same on every device.
/// </summary>
internal interface IInferenceOps<TBatch, TAct>
{
    /// <summary>
    /// <c>normed = rmsnorm(x)</c> with the layer's norm at <paramref name="site"/>; when <paramref name="addFirst"/>,
    /// first <c>x += r·delta</c> (the previous sublayer's output; a device may fuse the two).
    /// </summary>
    void Norm(TBatch batch, int layer, NormSite site, TAct x, TAct delta, bool addFirst, TAct normed);

    void Mamba(TBatch batch, int layer, TAct normed, TAct output);

    void Attention(TBatch batch, int layer, TAct normed, TAct output);

    /// <summary>The layer's feed-forward, whichever its plan holds (gated MLP, squared-ReLU MLP, experts with or without a shared MLP).</summary>
    void FeedForward(TBatch batch, int layer, TAct normed, TAct output);

    /// <summary><c>x += r·delta</c> (r = residual multiplier).</summary>
    void AddResidual(TBatch batch, TAct x, TAct delta);
}

/// <summary>
/// The inference layer walk of every family and device: for each layer of the config's plan, each sublayer it has is
/// <c>x += r·sublayer(rmsnorm(x))</c> — the mixer (Mamba-2 or attention) and then the feed-forward. The CPU model and
/// the CUDA model give it their ops (<see cref="IInferenceOps{TBatch, TAct}"/>); the training twin is
/// <c>TrainingLayer</c>.
/// </summary>
internal static class LayerStack
{
    /// <summary>
    /// Runs every layer over the batch, updating <paramref name="x"/> in place. Each residual add is handed to the norm
    /// after it, and the last one stands alone. <paramref name="afterLayer"/>, when given, is called with each layer's
    /// index once <paramref name="x"/> holds that layer's output (for hidden states; the adds are then not deferred).
    /// </summary>
    /// <param name="normed">Work rows for a norm's output.</param>
    /// <param name="delta">Work rows for a sublayer's output.</param>
    public static void Run<TBatch, TAct>(BambaConfig config, IInferenceOps<TBatch, TAct> ops, TBatch batch, TAct x, TAct normed, TAct delta,
        Action<int>? afterLayer = null)
    {
        bool pending = false; // whether delta holds a sublayer's output not yet added to x
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            var spec = config.Layers[layer];
            if (spec.Mixer != MixerKind.None)
            {
                ops.Norm(batch, layer, NormSite.Mixer, x, delta, pending, normed);
                if (spec.Mixer == MixerKind.Attention) ops.Attention(batch, layer, normed, delta);
                else ops.Mamba(batch, layer, normed, delta);
                pending = true;
            }
            if (spec.FeedForward != FeedForwardKind.None)
            {
                ops.Norm(batch, layer, NormSite.FeedForward, x, delta, pending, normed);
                ops.FeedForward(batch, layer, normed, delta);
                pending = true;
            }
            if (afterLayer is null) continue;
            if (pending) ops.AddResidual(batch, x, delta);
            pending = false;
            afterLayer(layer);
        }
        if (pending) ops.AddResidual(batch, x, delta);
    }
}

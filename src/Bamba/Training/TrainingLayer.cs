using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Training;

/// <summary>A layer's mixer or feed-forward for training on some device: a forward that keeps its tape, and its backward.</summary>
internal interface ISublayer<TBatch, TAct>
{
    /// <summary>Writes the sublayer's output for <paramref name="input"/>; returns what its backward needs.</summary>
    object Forward(TBatch batch, TAct input, TAct output);

    /// <summary>Accumulates parameter gradients; returns the gradient of the input.</summary>
    TAct Backward(TBatch batch, object tape, TAct dOutput);
}

/// <summary>A feed-forward's tape on any device; <see cref="Router"/> is its routed experts' routing, if it has them.</summary>
internal interface IRoutedTape
{
    IRouterTape? Router { get; }
}

/// <summary>The few ops the layer skeleton runs itself, on a device's activations ([rows, hidden], float32).</summary>
internal interface ILayerOps<TAct>
{
    /// <summary>
    /// Whether the layers recompute their activations in the backward (gradient checkpointing): the forward keeps only
    /// each layer's input. A device's mode for all its layers, since a device that reuses buffers then gives every
    /// layer the same tape buffers (<see cref="TapeBuffer"/>).
    /// </summary>
    bool Recompute { get; }
    /// <summary>A work buffer of <paramref name="rows"/> rows; a device that reuses buffers keeps one per name.</summary>
    TAct Buffer(string name, int rows);
    /// <summary>
    /// A buffer that layer <paramref name="layer"/>'s tape holds: one per layer, or, when recomputing, one layer's
    /// worth that every layer reuses (only the layer being differentiated holds a tape then).
    /// </summary>
    TAct TapeBuffer(int layer, string name, int rows);
    void Copy(TAct source, TAct destination, int rows);
    void RmsNorm(TAct x, Parameter weight, TAct output, int rows);
    /// <summary><c>x += scale·delta</c>.</summary>
    void AddScaled(TAct x, TAct delta, float scale, int rows);
    /// <summary><c>x *= scale</c> in place.</summary>
    void Scale(TAct x, float scale, int rows);
    /// <summary><c>dx +=</c> RMSNorm's input gradient, and the weight's gradient += its share.</summary>
    void RmsNormBackward(TAct x, Parameter weight, TAct dy, TAct dx, int rows);
}

/// <summary>
/// One decoder layer for training, as its plan has it, on any device: <c>x += r·mixer(rmsnorm(x))</c> and/or
/// <c>x += r·ffn(rmsnorm(x))</c> (r = residual multiplier), and its backward. The CPU (float arrays) and the GPU
/// (device buffers) give it their ops and sublayers; the skeleton is this one. When the ops say
/// <see cref="ILayerOps{TAct}.Recompute"/>, the forward keeps only the layer's input and the backward rebuilds the tape
/// from it first (activation recomputation).
/// </summary>
internal sealed class TrainingLayer<TBatch, TAct>
{
    private readonly ILayerOps<TAct> _ops;
    private readonly int _index;
    private readonly float _residual;
    private readonly Parameter? _mixerNorm, _ffNorm;
    private readonly ISublayer<TBatch, TAct>? _mixer, _ffn;

    /// <param name="mixer">The device's mixer of a kind (Mamba-2 or attention) for this layer.</param>
    /// <param name="feedForward">The device's feed-forward for this layer (dense MLP, experts, or both).</param>
    public TrainingLayer(BambaConfig c, ParameterSet set, int index, ILayerOps<TAct> ops,
        Func<MixerKind, ISublayer<TBatch, TAct>> mixer, Func<ISublayer<TBatch, TAct>> feedForward)
    {
        _ops = ops;
        _index = index;
        _residual = (float)c.ResidualMultiplier;
        var spec = c.Layers[index];
        if (spec.Mixer != MixerKind.None)
        {
            _mixerNorm = set[TensorRole.MixerNorm, index];
            _mixer = mixer(spec.Mixer);
        }
        if (spec.FeedForward == FeedForwardKind.None) return;
        _ffNorm = set[TensorRole.FeedForwardNorm, index];
        _ffn = feedForward();
    }

    /// <summary>What a layer's forward leaves for its backward: its whole <see cref="Tape"/>, or, when recomputing, its <see cref="Input"/>.</summary>
    public abstract record Saved
    {
        /// <summary>The routing of this layer's experts (for the router auxiliary loss), or null.</summary>
        public abstract IRouterTape? Router { get; }
    }

    /// <summary>The residual stream before the mixer and before the feed-forward (default where there is none), and the sublayers' tapes.</summary>
    public sealed record Tape(TAct XIn, TAct XMid, object? Mixer, object? FeedForward) : Saved
    {
        public override IRouterTape? Router => (FeedForward as IRoutedTape)?.Router;
    }

    /// <summary>
    /// The router auxiliary loss of one forward over every MoE layer's routing (<see cref="Training.RouterAuxLoss"/>), as
    /// loss sums of one forward, its gradient (× <paramref name="scale"/>) left in the tapes (or kept routings) for
    /// <see cref="Backward"/>; off (no sums, nothing done) when the scale is 0.
    /// </summary>
    public static LossSums RouterAuxLoss(BambaConfig c, Saved[] saved, int rows, float scale) => scale == 0f ? default
        : new LossSums(0, 0, 0, 0, Training.RouterAuxLoss.ForwardBackward(saved.Select(t => t.Router).OfType<IRouterTape>().ToList(), rows, c.NumExperts, scale), 1);

    /// <summary>The residual stream entering the layer, from which the backward recomputes the tape.</summary>
    public sealed record Input(TAct X, IRouterTape? KeptRouting) : Saved
    {
        public override IRouterTape? Router => KeptRouting;
    }

    /// <summary>
    /// A MoE layer's routing kept beside a recomputing layer's input: the router's logits, the choice and the logits'
    /// gradient (host arrays of rows × experts), without the experts' activations the tape holds.
    /// </summary>
    private sealed record RoutingOnly(float[] Logits, ExpertRouter.Routing Routing, float[] DLogits) : IRouterTape;

    /// <summary>Updates <paramref name="x"/> in place to the layer's output; returns what the backward needs.</summary>
    public Saved Forward(TBatch batch, int rows, TAct x)
    {
        if (!_ops.Recompute) return Run(batch, rows, x);
        var input = Keep($"L{_index}.input", x, rows);
        // The tape sits in the buffers every layer shares, and the next layer overwrites it; its routing stays, as
        // the router auxiliary loss adds its gradient to every MoE layer's before the first backward.
        var router = Run(batch, rows, x).Router;
        return new Input(input, router is null ? null : new RoutingOnly(router.Logits, router.Routing, router.DLogits));
    }

    /// <summary>
    /// Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input, in place. A layer
    /// that kept only its input first runs its forward again, the same ops on the same values, so the tape is the one
    /// the forward made bit for bit: LoRA dropout masks are keyed on the training forward's number, not drawn afresh,
    /// and MoE routing is a function of the router's logits. That forward updates the kept input in place, which no
    /// one reads afterwards.
    /// </summary>
    public void Backward(TBatch batch, int rows, Saved saved, TAct dx)
    {
        var tape = saved as Tape ?? Recompute(batch, rows, (Input)saved);
        if (tape.FeedForward is { } ffn)
        {
            var dNormed = _ffn!.Backward(batch, ffn, Scaled(dx, rows));
            _ops.RmsNormBackward(tape.XMid, _ffNorm!, dNormed, dx, rows);
        }
        if (tape.Mixer is { } mixer)
        {
            var dNormed = _mixer!.Backward(batch, mixer, Scaled(dx, rows));
            _ops.RmsNormBackward(tape.XIn, _mixerNorm!, dNormed, dx, rows);
        }
    }

    /// <summary>The tape again from the kept input, with the logits' gradient the auxiliary loss left in the kept routing.</summary>
    private Tape Recompute(TBatch batch, int rows, Input saved)
    {
        var tape = Run(batch, rows, saved.X);
        if (saved.KeptRouting is { } kept) kept.DLogits.CopyTo(tape.Router!.DLogits, 0); // the same routing: rows × experts both
        return tape;
    }

    /// <summary>The layer's forward, keeping its tape: updates <paramref name="x"/> in place.</summary>
    private Tape Run(TBatch batch, int rows, TAct x)
    {
        var delta = _ops.Buffer("fwd.delta", rows);
        TAct xIn = default!, xMid = default!;
        object? mixer = null, ffn = null;
        if (_mixer is not null)
        {
            xIn = KeepOnTape("xin", x, rows);
            var normed = _ops.TapeBuffer(_index, "normed", rows); // each sublayer's tape keeps its normed input
            _ops.RmsNorm(x, _mixerNorm!, normed, rows);
            mixer = _mixer.Forward(batch, normed, delta);
            _ops.AddScaled(x, delta, _residual, rows);
        }
        if (_ffn is not null)
        {
            xMid = KeepOnTape("xmid", x, rows);
            var normed = _ops.TapeBuffer(_index, "normed2", rows);
            _ops.RmsNorm(x, _ffNorm!, normed, rows);
            ffn = _ffn.Forward(batch, normed, delta);
            _ops.AddScaled(x, delta, _residual, rows);
        }
        return new Tape(xIn, xMid, mixer, ffn);
    }

    private TAct KeepOnTape(string name, TAct x, int rows)
    {
        var copy = _ops.TapeBuffer(_index, name, rows);
        _ops.Copy(x, copy, rows);
        return copy;
    }

    private TAct Keep(string name, TAct x, int rows)
    {
        var copy = _ops.Buffer(name, rows);
        _ops.Copy(x, copy, rows);
        return copy;
    }

    /// <summary>The gradient a sublayer's output gets through <c>x += r·out</c>: dx itself when r = 1, else r·dx in a work buffer.</summary>
    private TAct Scaled(TAct dx, int rows)
    {
        if (_residual == 1f) return dx;
        var scaled = Keep("bwd.layer.dsub", dx, rows);
        _ops.Scale(scaled, _residual, rows);
        return scaled;
    }
}

using Bamba.Architectures;
using Bamba.Configuration;

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
    /// <summary>A work buffer of <paramref name="rows"/> rows; a device that reuses buffers keeps one per name.</summary>
    TAct Buffer(string name, int rows);
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
/// (device buffers) give it their ops and sublayers; the skeleton is this one.
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

    /// <summary>The residual stream before the mixer and before the feed-forward (default where there is none), and the sublayers' tapes.</summary>
    public sealed record Tape(TAct XIn, TAct XMid, object? Mixer, object? FeedForward)
    {
        /// <summary>The routing of this layer's experts (for the router auxiliary loss), or null.</summary>
        public IRouterTape? Router => (FeedForward as IRoutedTape)?.Router;
    }

    /// <summary>
    /// The router auxiliary loss of one forward over every MoE layer's routing (<see cref="Training.RouterAuxLoss"/>), as
    /// loss sums of one forward, its gradient (× <paramref name="scale"/>) left in the tapes for <see cref="Backward"/>;
    /// off (no sums, nothing done) when the scale is 0.
    /// </summary>
    public static LossSums RouterAuxLoss(BambaConfig c, Tape[] tapes, int rows, float scale) => scale == 0f ? default
        : new LossSums(0, 0, 0, 0, Training.RouterAuxLoss.ForwardBackward(tapes.Select(t => t.Router).OfType<IRouterTape>().ToList(), rows, c.NumExperts, scale), 1);

    /// <summary>Updates <paramref name="x"/> in place to the layer's output.</summary>
    public Tape Forward(TBatch batch, int rows, TAct x)
    {
        string p = $"L{_index}.";
        var delta = _ops.Buffer("fwd.delta", rows);
        TAct xIn = default!, xMid = default!;
        object? mixer = null, ffn = null;
        if (_mixer is not null)
        {
            xIn = Keep(p + "xin", x, rows);
            var normed = _ops.Buffer(p + "normed", rows); // each sublayer's tape keeps its normed input
            _ops.RmsNorm(x, _mixerNorm!, normed, rows);
            mixer = _mixer.Forward(batch, normed, delta);
            _ops.AddScaled(x, delta, _residual, rows);
        }
        if (_ffn is not null)
        {
            xMid = Keep(p + "xmid", x, rows);
            var normed = _ops.Buffer(p + "normed2", rows);
            _ops.RmsNorm(x, _ffNorm!, normed, rows);
            ffn = _ffn.Forward(batch, normed, delta);
            _ops.AddScaled(x, delta, _residual, rows);
        }
        return new Tape(xIn, xMid, mixer, ffn);
    }

    private TAct Keep(string name, TAct x, int rows)
    {
        var copy = _ops.Buffer(name, rows);
        _ops.Copy(x, copy, rows);
        return copy;
    }

    /// <summary>Turns <paramref name="dx"/> (gradient of the layer's output) into the gradient of its input, in place.</summary>
    public void Backward(TBatch batch, int rows, Tape tape, TAct dx)
    {
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

    /// <summary>The gradient a sublayer's output gets through <c>x += r·out</c>: dx itself when r = 1, else r·dx in a work buffer.</summary>
    private TAct Scaled(TAct dx, int rows)
    {
        if (_residual == 1f) return dx;
        var scaled = Keep("bwd.layer.dsub", dx, rows);
        _ops.Scale(scaled, _residual, rows);
        return scaled;
    }
}

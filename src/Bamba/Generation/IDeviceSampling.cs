namespace Bamba.Generation;

/// <summary>
/// A model that can also pick each sequence's next token where its logits are (on the GPU), so that only token ids
/// cross to the host: what keeps a large decode batch from moving batch × vocabulary floats every step.
/// </summary>
public interface IDeviceSampling
{
    /// <summary>Whether <see cref="StepAndSample"/> implements these options (penalties and min-p need the host's logits).</summary>
    bool CanSample(SamplingOptions options);

    /// <summary>
    /// Like <see cref="ISequenceModel.Step"/>, then picks one token per sequence; <paramref name="uniforms"/> holds one
    /// draw in [0, 1) per sequence (ignored by greedy ones). <paramref name="allowed"/>, when given, holds per sequence
    /// the ids it may take (a grammar's token mask: bit i of word i / 64 set for id i, (vocab + 63) / 64 words), or null
    /// for an unconstrained one; the logits of the other ids count as −∞, masked where they are. A mask array is read as
    /// immutable: the device may keep a copy keyed by the array and reuse it whenever the same array comes again
    /// (<see cref="Constraints.TokenConstraint.AllowedMask"/> gives one array per grammar state).
    /// </summary>
    int[] StepAndSample(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs,
        IReadOnlyList<SamplingOptions> sampling, IReadOnlyList<float> uniforms, IReadOnlyList<ulong[]?>? allowed = null);
}

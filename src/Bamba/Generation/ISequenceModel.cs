using Bamba.Configuration;

namespace Bamba.Generation;

/// <summary>
/// A causal LM that advances many independent sequences in one call: the unit a generator, a continuous-batching
/// scheduler or a server drives. Each sequence owns its <see cref="SequenceState"/> (KV for attention layers, conv
/// window + SSM state for Mamba layers); one call appends a run of tokens to each (a prompt chunk or one decoded
/// token) and returns the logits at the last appended token of each. Sequences never see each other, so the result
/// of a sequence does not depend on what else is in the batch.
/// </summary>
public interface ISequenceModel : IDisposable
{
    BambaConfig Config { get; }

    /// <summary>A fresh, empty state for one sequence.</summary>
    SequenceState CreateState();

    /// <summary>
    /// Appends <c>inputs[i]</c> to <c>states[i]</c> for every i and returns the next-token logits after the last
    /// appended token of each sequence ([i][vocab]). Every run must be non-empty.
    /// </summary>
    float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs);
}

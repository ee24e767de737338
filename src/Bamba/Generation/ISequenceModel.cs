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
    /// <summary>The vocabulary and the ids that end or pad a sequence: what generation needs to know of the model.</summary>
    TokenSpace Tokens { get; }

    /// <summary>
    /// The LoRA adapters a sequence may pick (<see cref="SequenceState.Adapter"/> i runs with <c>Adapters[i − 1]</c>), by
    /// name; empty for a backend that serves none. A backend that lists adapters applies each row's own in a mixed batch.
    /// </summary>
    IReadOnlyList<string> Adapters => [];

    /// <summary>A fresh, empty state for one sequence.</summary>
    SequenceState CreateState();

    /// <summary>
    /// Appends <c>inputs[i]</c> to <c>states[i]</c> for every i and returns the next-token logits after the last
    /// appended token of each sequence ([i][vocab]). Every run must be non-empty.
    /// </summary>
    float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs);

    /// <summary>
    /// Like <see cref="Step"/> but returns the logits after every appended token of each run ([i][t · vocab + v]):
    /// what prompt scoring (OpenAI <c>echo</c> with <c>logprobs</c>) needs. The default appends one token at a time,
    /// which is correct for any model; backends override it with one batched pass.
    /// </summary>
    float[][] StepAllLogits(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        int vocab = Tokens.VocabSize;
        var result = inputs.Select(r => new float[r.Length * vocab]).ToArray();
        for (int t = 0, longest = inputs.Max(r => r.Length); t < longest; t++)
        {
            var live = Enumerable.Range(0, inputs.Count).Where(i => t < inputs[i].Length).ToArray();
            var logits = Step(live.Select(i => states[i]).ToArray(),
                live.Select(i => new SequenceInput(inputs[i].Tokens.Slice(t, 1),
                    inputs[i].Padding.IsEmpty ? default : inputs[i].Padding.Slice(t, 1))).ToArray());
            for (int j = 0; j < live.Length; j++) logits[j].CopyTo(result[live[j]], t * vocab);
        }
        return result;
    }
}

/// <summary>A model's vocabulary size and its end-of-sequence and padding ids.</summary>
public sealed record TokenSpace(int VocabSize, IReadOnlyList<int> EosTokenIds, int? PadTokenId);

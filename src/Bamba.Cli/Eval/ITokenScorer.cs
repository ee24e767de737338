using Bamba.Generation;

namespace Bamba.Cli.Eval;

/// <summary>
/// What eval scores token sequences with: log p(ids[t] | ids[&lt;t]) at every position of each sequence (null at 0,
/// as OpenAI's echo writes it), for several sequences at once.
/// </summary>
internal interface ITokenScorer
{
    IReadOnlyList<double?[]> Score(IReadOnlyList<int[]> sequences);
}

/// <summary>
/// A model in this process: the sequences go into one forward pass, packed side by side (each its own state, so
/// none sees another), and every position's logits come back.
/// </summary>
internal sealed class ModelScorer(ISequenceModel model) : ITokenScorer
{
    public IReadOnlyList<double?[]> Score(IReadOnlyList<int[]> sequences)
    {
        int vocab = model.Tokens.VocabSize;
        var states = sequences.Select(_ => model.CreateState()).ToArray();
        try
        {
            var logits = model.StepAllLogits(states, sequences.Select(s => (SequenceInput)s).ToArray());
            return sequences.Select((ids, i) =>
            {
                var result = new double?[ids.Length];
                for (int t = 1; t < ids.Length; t++)
                    result[t] = Sampler.LogSoftmax(logits[i].AsSpan((t - 1) * vocab, vocab))[ids[t]];
                return result;
            }).ToArray();
        }
        finally { foreach (var s in states) s.Dispose(); }
    }
}

using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Tests.Browser;

/// <summary>
/// A model whose steps take at least <paramref name="stepTime"/> and which never ends a reply by itself (EOS gets −∞),
/// so a browser can watch a reply stream and stop it before <c>max_tokens</c>.
/// </summary>
internal sealed class SlowModel(ISequenceModel inner, TimeSpan stepTime, int eos) : ISequenceModel
{
    public TokenSpace Tokens => inner.Tokens;

    public SequenceState CreateState() => inner.CreateState();

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        Thread.Sleep(stepTime);
        var logits = inner.Step(states, inputs);
        foreach (var row in logits) row[eos] = float.NegativeInfinity;
        return logits;
    }

    public void Dispose() => inner.Dispose();
}

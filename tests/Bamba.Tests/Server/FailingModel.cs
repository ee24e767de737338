using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Tests.Server;

/// <summary>tiny-bamba, except that a step fails (as a device error would) when any run holds <see cref="Poison"/>.</summary>
internal sealed class FailingModel(ISequenceModel inner) : ISequenceModel
{
    public const int Poison = 511;

    public TokenSpace Tokens => inner.Tokens;

    public SequenceState CreateState() => inner.CreateState();

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        if (inputs.Any(r => r.Tokens.Span.Contains(Poison))) throw new InvalidOperationException("simulated device failure");
        return inner.Step(states, inputs);
    }

    public void Dispose() => inner.Dispose();
}

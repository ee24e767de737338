namespace Bamba.Modeling;

/// <summary>What a forward pass returns besides the last-token logits.</summary>
public sealed record ForwardOptions
{
    /// <summary>Logits at every position (training, scoring) instead of only the last of each run.</summary>
    public bool AllLogits { get; init; }
    /// <summary>Hidden states as transformers reports them: embeddings, each layer's output, the final norm.</summary>
    public bool HiddenStates { get; init; }
}

/// <summary>
/// Logits [rows, vocab] where rows are every token of every run in order (AllLogits) or one per run; hidden states
/// [tokens, hidden] each, over all tokens of all runs in order.
/// </summary>
public sealed record ForwardResult(float[] Logits, int Rows, IReadOnlyList<float[]> HiddenStates);

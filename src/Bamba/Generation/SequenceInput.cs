namespace Bamba.Generation;

/// <summary>
/// A run of tokens to append to one sequence. <see cref="Padding"/> (optional, same length) marks left-padding tokens:
/// they take part in the conv window as zero inputs, never reach the SSM state or attention, and get no position.
/// </summary>
public readonly record struct SequenceInput(ReadOnlyMemory<int> Tokens, ReadOnlyMemory<bool> Padding = default)
{
    public int Length => Tokens.Length;

    public static implicit operator SequenceInput(int[] tokens) => new(tokens);
}

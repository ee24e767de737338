namespace Bamba.Generation;

/// <summary>What to generate: how many tokens at most, how to sample them, and when to stop early.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>End-of-sequence ids; null = the model config's eos_token_id.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }
    /// <summary>More ids that end a sequence (kept in the output, like EOS).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new BambaException($"max new tokens must be ≥ 1, got {MaxNewTokens}");
        Sampling.Validate();
    }
}

public enum FinishReason { Length, Stop }

/// <summary>The generated ids of one prompt (prompt excluded) and why generation ended.</summary>
public sealed record GenerationResult(int[] TokenIds, FinishReason FinishReason);

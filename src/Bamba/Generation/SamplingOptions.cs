namespace Bamba.Generation;

/// <summary>
/// How the next token is chosen from logits. Temperature 0 (or below <see cref="GreedyBelow"/>) means greedy (argmax). The processors apply in the order
/// transformers uses: repetition penalty, presence/frequency penalties, temperature, top-k, top-p, min-p.
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep the k most likely tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set whose probability reaches p; 1 = off.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Drop tokens below min_p × the top probability; 0 = off.</summary>
    public float MinP { get; init; }
    /// <summary>CTRL-style penalty on tokens already seen (divide positive logits, multiply negative); 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>OpenAI's penalties: subtract presence once, frequency per occurrence, for generated tokens.</summary>
    public float PresencePenalty { get; init; }
    public float FrequencyPenalty { get; init; }
    public ulong? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    /// <summary>
    /// Temperatures below this pick as greedy does. logits / T overflows float for T near 1e-38 (every logit ±inf, the
    /// softmax NaN, the draw the last candidate), and already at 1e-5 a logit gap of 0.001 weighs e^-100: the same pick.
    /// </summary>
    public const float GreedyBelow = 1e-5f;

    public bool IsGreedy => Temperature < GreedyBelow;

    /// <summary>Throws a <see cref="BambaException"/> naming the first parameter out of range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new BambaException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new BambaException($"top_k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new BambaException($"top_p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw new BambaException($"min_p must be in [0, 1], got {MinP}");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty)) throw new BambaException($"repetition_penalty must be > 0, got {RepetitionPenalty}");
        if (!(Math.Abs(PresencePenalty) <= 2)) throw new BambaException($"presence_penalty must be in [-2, 2], got {PresencePenalty}");
        if (!(Math.Abs(FrequencyPenalty) <= 2)) throw new BambaException($"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}");
    }
}

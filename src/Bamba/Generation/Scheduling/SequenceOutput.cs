namespace Bamba.Generation.Scheduling;

/// <summary>A token id with its natural-log probability under the model (before sampling processors).</summary>
public readonly record struct TokenLogprob(int Id, double Logprob);

/// <summary>One generated token: its id, its log-probability and, if asked, the most likely alternatives.</summary>
public sealed record GeneratedToken(int Id, double Logprob, TokenLogprob[] TopLogprobs);

/// <summary>
/// Log-probabilities of the prompt tokens: element t is log p(prompt[t] | prompt[&lt;t]); element 0 is null, as in
/// OpenAI's <c>echo</c> convention. <see cref="TopLogprobs"/>[t] lists the alternatives at t (empty at 0).
/// </summary>
public sealed record PromptScores(double?[] Logprobs, TokenLogprob[][] TopLogprobs);

/// <summary>Why a sequence ended.</summary>
public enum SequenceFinish
{
    /// <summary>It produced max tokens.</summary>
    Length,
    /// <summary>It produced an EOS or stop id.</summary>
    Stop,
    /// <summary>Its consumer cancelled it (client gone, or a stop string found above the scheduler).</summary>
    Cancelled,
}

/// <summary>How a sequence ended and what it cost.</summary>
public sealed record SequenceResult(SequenceFinish Finish, int PromptTokens, int GeneratedTokens, PromptScores? PromptScores);

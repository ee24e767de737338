namespace Bamba.Generation.Scheduling;

/// <summary>One sequence to run through the scheduler: a prompt, how many tokens to add, and what to report.</summary>
public sealed record SequenceRequest
{
    public required int[] Prompt { get; init; }
    /// <summary>Tokens to generate at most; 0 only scores the prompt (OpenAI <c>echo</c> with <c>max_tokens: 0</c>).</summary>
    public int MaxNewTokens { get; init; } = 16;
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;
    /// <summary>End-of-sequence ids; null = the model config's eos_token_id.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }
    /// <summary>More ids that end the sequence (kept in the output, like EOS).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Report the log-probability of each generated token.</summary>
    public bool Logprobs { get; init; }
    /// <summary>Most likely alternatives reported with each token (and each prompt token when scoring); 0 = none.</summary>
    public int TopLogprobs { get; init; }
    /// <summary>Report log p(prompt[t] | prompt[&lt;t]) for every prompt token.</summary>
    public bool PromptLogprobs { get; init; }
    /// <summary>Constrained decoding: every generated token must continue a sentence of this grammar (a JSON schema's),
    /// and the sequence ends when the sentence is complete.</summary>
    public Constraints.TokenGrammar? Grammar { get; init; }
    /// <summary>The LoRA adapter to run with: 0 for none, i for the model's <see cref="ISequenceModel.Adapters"/>[i − 1].</summary>
    public int Adapter { get; init; }

    public const int MaxTopLogprobs = 20;

    /// <summary>Prompt plus max_tokens; checked, as <see cref="Validate"/> bounds it by the context before anyone reserves it.</summary>
    public int TotalTokens => checked(Prompt.Length + MaxNewTokens);

    /// <summary>Throws a <see cref="BambaException"/> naming the first value a model of <paramref name="vocab"/> ids cannot take.</summary>
    public void Validate(int vocab, int maxContext, int adapters = 0)
    {
        if (Prompt.Length == 0) throw new BambaException("the prompt is empty");
        if (Adapter < 0 || Adapter > adapters) throw new BambaException($"adapter {Adapter} does not exist (the model has {adapters})");
        foreach (int id in Prompt)
            if ((uint)id >= (uint)vocab) throw new BambaException($"token id {id} is outside the vocabulary (0..{vocab - 1})");
        if (MaxNewTokens < 0) throw new BambaException($"max_tokens must be ≥ 0, got {MaxNewTokens}");
        if (TopLogprobs is < 0 or > MaxTopLogprobs) throw new BambaException($"top_logprobs must be in [0, {MaxTopLogprobs}], got {TopLogprobs}");
        if ((long)Prompt.Length + MaxNewTokens > maxContext) // long: max_tokens near 2^31 must not wrap below the limit
            throw new BambaException($"the prompt ({Prompt.Length} tokens) plus max_tokens ({MaxNewTokens}) exceeds the context of {maxContext} tokens");
        Sampling.Validate();
    }
}

using System.Runtime.CompilerServices;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Microsoft.Extensions.AI;

namespace Bamba.Serving;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="ServingEngine"/>: in-process chat through the same scheduler the
/// HTTP server uses, so in-process and HTTP callers batch together. Text only (no tools, no images).
/// </summary>
public sealed class BambaChatClient(ServingEngine engine, bool ownsEngine = false) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("bamba", null, engine.ModelId);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var run = Start(messages, options, cancellationToken);
        await foreach (var _ in run.ReadAsync(cancellationToken).ConfigureAwait(false)) { }
        var end = await run.EndAsync().ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, run.Text))
        {
            ModelId = engine.ModelId,
            FinishReason = Finish(end),
            Usage = Usage(end),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var run = Start(messages, options, cancellationToken);
        string id = Guid.NewGuid().ToString("N");
        await foreach (var delta in run.ReadAsync(cancellationToken).ConfigureAwait(false))
            if (delta.Text.Length > 0)
                yield return new ChatResponseUpdate(ChatRole.Assistant, delta.Text) { ResponseId = id, ModelId = engine.ModelId };
        var end = await run.EndAsync().ConfigureAwait(false);
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(end))])
        { ResponseId = id, ModelId = engine.ModelId, FinishReason = Finish(end) };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(engine) ? engine
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (ownsEngine) engine.Dispose();
    }

    private ChoiceRun Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancel)
    {
        if (options?.ModelId is { } model && model != engine.ModelId)
            throw new BambaException($"the model '{model}' is not served here; this client serves '{engine.ModelId}'");
        var turns = new List<ChatTurn>();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Add(new ChatTurn("system", instructions));
        turns.AddRange(messages.Select(m => new ChatTurn(m.Role.Value, m.Text)));
        var prompt = engine.EncodeChat(turns);
        var request = new SequenceRequest
        {
            Prompt = prompt,
            MaxNewTokens = options?.MaxOutputTokens ?? engine.MaxContext - prompt.Length,
            Sampling = Sampling(options),
        };
        return engine.Start(request, options?.StopSequences?.ToArray() ?? [], cancel);
    }

    /// <summary>The model's generation defaults with the options' values on top.</summary>
    private SamplingOptions Sampling(ChatOptions? o)
    {
        var d = engine.Defaults.Sampling;
        if (o is null) return d;
        return d with
        {
            Temperature = o.Temperature ?? d.Temperature,
            TopP = o.TopP ?? d.TopP,
            TopK = o.TopK ?? d.TopK,
            PresencePenalty = o.PresencePenalty ?? d.PresencePenalty,
            FrequencyPenalty = o.FrequencyPenalty ?? d.FrequencyPenalty,
            Seed = o.Seed is long s ? unchecked((ulong)s) : d.Seed,
        };
    }

    private static ChatFinishReason Finish(ChoiceEnd end) => end.FinishReason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(ChoiceEnd end) => new()
    {
        InputTokenCount = end.PromptTokens,
        OutputTokenCount = end.CompletionTokens,
        TotalTokenCount = end.PromptTokens + end.CompletionTokens,
    };
}

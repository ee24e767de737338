using System.Runtime.CompilerServices;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Serving.Tools;
using Microsoft.Extensions.AI;

namespace Bamba.Serving;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="ServingEngine"/>: in-process chat through the same scheduler the
/// HTTP server uses, so in-process and HTTP callers batch together. Text, tools (<c>ChatOptions.Tools</c>, calls parsed
/// into <see cref="FunctionCallContent"/>, forced calls constrained to their schemas) and JSON response formats; no images.
/// </summary>
public sealed class BambaChatClient(ServingEngine engine, bool ownsEngine = false) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("bamba", null, engine.ModelId);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (run, tools) = Start(messages, options, cancellationToken);
        using var _run = run;
        await foreach (var _ in run.ReadAsync(cancellationToken).ConfigureAwait(false)) { }
        var end = await run.EndAsync().ConfigureAwait(false);
        var contents = ChatClientTools.Contents(tools, run.Text);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, contents))
        {
            ModelId = engine.ModelId,
            FinishReason = contents.OfType<FunctionCallContent>().Any() ? ChatFinishReason.ToolCalls : Finish(end),
            Usage = Usage(end),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (run, tools) = Start(messages, options, cancellationToken);
        using var _run = run;
        string id = Guid.NewGuid().ToString("N");
        var gate = tools is { MayCall: true } ? new ToolCallStream(tools, parallel: true) : null;
        await foreach (var delta in run.ReadAsync(cancellationToken).ConfigureAwait(false))
            if ((gate?.Push(delta.Text) ?? delta.Text) is { Length: > 0 } text)
                yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = id, ModelId = engine.ModelId };
        var end = await run.EndAsync().ConfigureAwait(false);
        var (content, calls) = gate?.Finish() ?? (null, []);
        var last = new List<AIContent>();
        if (content is { Length: > 0 }) last.Add(new TextContent(content));
        last.AddRange(calls.Select(ChatClientTools.Call));
        last.Add(new UsageContent(Usage(end)));
        yield return new ChatResponseUpdate(ChatRole.Assistant, last)
        { ResponseId = id, ModelId = engine.ModelId, FinishReason = calls.Count > 0 ? ChatFinishReason.ToolCalls : Finish(end) };
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

    private (ChoiceRun Run, ToolRequest? Tools) Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancel)
    {
        if (options?.ModelId is { } model && model != engine.ModelId)
            throw new BambaException($"the model '{model}' is not served here; this client serves '{engine.ModelId}'");
        var turns = new List<ChatTurn>();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Add(new ChatTurn("system", instructions));
        turns.AddRange(messages.SelectMany(ChatClientTools.Turns));
        var tools = ChatClientTools.Request(options, engine);
        var prompt = engine.EncodeChat(turns, tools?.Offered);
        var request = new SequenceRequest
        {
            Prompt = prompt,
            MaxNewTokens = options?.MaxOutputTokens ?? engine.MaxContext - prompt.Length,
            Sampling = Sampling(options),
            Grammar = tools?.Grammar(engine) ?? ChatClientTools.ResponseGrammar(options, engine),
        };
        return (engine.Start(request, options?.StopSequences?.ToArray() ?? [], cancel), tools);
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

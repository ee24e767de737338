using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bamba.Server.Protocol;

/// <summary>The request fields /v1/completions and /v1/chat/completions share (OpenAI's names, plus vLLM's extras).</summary>
public abstract record SamplingFields
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    /// <summary>vLLM extension; 0 or −1 = off.</summary>
    public int? TopK { get; init; }
    /// <summary>vLLM extension.</summary>
    public float? MinP { get; init; }
    /// <summary>vLLM extension.</summary>
    public float? RepetitionPenalty { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public long? Seed { get; init; }
    /// <summary>A string or a list of up to 4 strings.</summary>
    public JsonElement? Stop { get; init; }
    /// <summary>vLLM extension: ids that end a choice.</summary>
    public int[]? StopTokenIds { get; init; }
    /// <summary>vLLM extension: generate through EOS (benchmarks, tests).</summary>
    public bool? IgnoreEos { get; init; }
    public int? N { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
    public string? User { get; init; }
    /// <summary>Token id (as a string key) → bias in [−100, 100], added to its logit.</summary>
    public Dictionary<string, float>? LogitBias { get; init; }
}

public sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}

/// <summary>POST /v1/completions.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CompletionRequest : SamplingFields
{
    /// <summary>A string, a list of strings, a list of token ids, or a list of such lists.</summary>
    public JsonElement? Prompt { get; init; }
    /// <summary>Number of most likely alternatives per token (0–20); any value turns on per-token logprobs.</summary>
    public int? Logprobs { get; init; }
    /// <summary>Prepend the prompt (with its logprobs if asked) to the completion: loglikelihood scoring.</summary>
    public bool? Echo { get; init; }
    public int? BestOf { get; init; }
    public string? Suffix { get; init; }
}

/// <summary>POST /v1/chat/completions.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ChatCompletionRequest : SamplingFields
{
    public ChatMessageDto[]? Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public bool? Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
    /// <summary>{"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict"}}.</summary>
    public JsonElement? ResponseFormat { get; init; }
    /// <summary>[{"type": "function", "function": {"name", "description", "parameters", "strict"}}].</summary>
    public ToolDto[]? Tools { get; init; }
    /// <summary>"none" | "auto" | "required" | {"type": "function", "function": {"name": ...}}.</summary>
    public JsonElement? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }
}

public sealed record ToolDto
{
    public string? Type { get; init; }
    public FunctionDto? Function { get; init; }
}

public sealed record FunctionDto
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public JsonElement? Parameters { get; init; }
    public bool? Strict { get; init; }
}

/// <summary>A tool call, in an assistant message (id, type, function) or a streamed delta (with its index).</summary>
public sealed record ToolCallDto
{
    public int? Index { get; init; }
    public string? Id { get; init; }
    public string? Type { get; init; }
    public FunctionCallDto? Function { get; init; }
}

public sealed record FunctionCallDto
{
    public string? Name { get; init; }
    public string? Arguments { get; init; }
}

/// <summary>A chat message: content is a string or a list of parts, of which the text parts count.</summary>
public sealed record ChatMessageDto
{
    public string? Role { get; init; }
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
    /// <summary>The calls an assistant message made.</summary>
    public ToolCallDto[]? ToolCalls { get; init; }
    /// <summary>The call a tool message answers.</summary>
    public string? ToolCallId { get; init; }
}

/// <summary>POST /tokenize (vLLM's shape): a prompt, or chat messages rendered with the template.</summary>
public sealed record TokenizeRequest
{
    public string? Model { get; init; }
    public string? Prompt { get; init; }
    public bool? AddSpecialTokens { get; init; }
    public ChatMessageDto[]? Messages { get; init; }
    public bool? AddGenerationPrompt { get; init; }
}

/// <summary>POST /detokenize.</summary>
public sealed record DetokenizeRequest
{
    public string? Model { get; init; }
    public int[]? Tokens { get; init; }
}

namespace Bamba.Server.Protocol;

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    public static Usage Of(int prompt, int completion) => new(prompt, completion, prompt + completion);
}

/// <summary>Legacy completions logprobs: parallel lists over the tokens of the choice's text.</summary>
public sealed record CompletionLogprobs(
    List<string> Tokens, List<double?> TokenLogprobs, List<Dictionary<string, double>?> TopLogprobs, List<int> TextOffset);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason)
{
    /// <summary>Extension (as vLLM's return_token_ids): the generated ids, for models served without a tokenizer.</summary>
    public int[]? TokenIds { get; init; }
}

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, List<CompletionChoice> Choices, Usage? Usage);

public sealed record ChatMessageOut(string? Role, string? Content)
{
    public List<ToolCallDto>? ToolCalls { get; init; }
}

public sealed record ChatTopLogprob(string Token, double Logprob, int[] Bytes);

public sealed record ChatTokenLogprob(string Token, double Logprob, int[] Bytes, List<ChatTopLogprob> TopLogprobs);

public sealed record ChatLogprobs(List<ChatTokenLogprob> Content);

public sealed record ChatChoice(int Index, ChatMessageOut Message, ChatLogprobs? Logprobs, string FinishReason);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, List<ChatChoice> Choices, Usage Usage);

public sealed record ChatChunkChoice(int Index, ChatMessageOut Delta, ChatLogprobs? Logprobs, string? FinishReason);

public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, List<ChatChunkChoice> Choices, Usage? Usage);

/// <summary>One servable id; a LoRA adapter's card names its base model in <see cref="Parent"/>, as vLLM's does.</summary>
public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, int MaxModelLen)
{
    public string? Parent { get; init; }
}

public sealed record ModelList(string Object, List<ModelCard> Data);

public sealed record ErrorBody(string Message, string Type, string? Param, string? Code);

public sealed record ErrorResponse(ErrorBody Error);

public sealed record TokenizeResponse(int Count, int MaxModelLen, int[] Tokens);

public sealed record DetokenizeResponse(string Prompt);

public sealed record HealthResponse(string Status);

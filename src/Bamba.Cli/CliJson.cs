using System.Text.Json.Serialization;
using Bamba.Backends.Cuda.Bench;
using Bamba.Benchmarks;
using Bamba.Cli.Bench;
using Bamba.Cli.Eval;
using Bamba.Training;

namespace Bamba.Cli;

/// <summary>
/// Serialization code generated at build time for every type the CLI writes or sends as JSON (its output lines, the
/// benchmarks' results, bench-serve's requests), so a trimmed publish, where reflection-based JSON is off, writes the
/// same JSON. <see cref="JsonLines.Output"/> resolves through it; a type missing here fails at its first write.
/// </summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(GpuBenchReport))]
[JsonSerializable(typeof(LoraTrainResult))]
[JsonSerializable(typeof(CpuBenchmarkResult))]
[JsonSerializable(typeof(TokenizerBenchmarkResult))]
[JsonSerializable(typeof(ConstrainedDecodingResult))]
[JsonSerializable(typeof(ServeLoadResult))]
[JsonSerializable(typeof(MultiTurnResult))]
[JsonSerializable(typeof(SchemaLoadResult))]
[JsonSerializable(typeof(CompletionRequestBody))]
[JsonSerializable(typeof(IdsLine))]
[JsonSerializable(typeof(TextLine))]
[JsonSerializable(typeof(GenerationLine))]
[JsonSerializable(typeof(ScoreLine))]
[JsonSerializable(typeof(PerplexityLine))]
[JsonSerializable(typeof(TasksLine))]
[JsonSerializable(typeof(SavedChat))]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary>metrics.jsonl's lines: the log history's entries in snake_case, as trainer_state.json has them.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(LogEntry))]
internal sealed partial class TrainingLogJson : JsonSerializerContext;

/// <summary><c>tokenize</c>'s line.</summary>
internal sealed record IdsLine([property: JsonPropertyName("ids")] IReadOnlyList<int> Ids);

/// <summary><c>detokenize</c>'s line.</summary>
internal sealed record TextLine([property: JsonPropertyName("text")] string Text);

/// <summary><c>generate --format json</c>'s line (no text without a tokenizer).</summary>
internal sealed record GenerationLine(
    [property: JsonPropertyName("token_ids")] IReadOnlyList<int> TokenIds,
    [property: JsonPropertyName("text"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text,
    [property: JsonPropertyName("finish_reason")] string FinishReason);

/// <summary><c>score --format json</c>'s line.</summary>
internal sealed record ScoreLine(
    [property: JsonPropertyName("token_logprobs")] double?[] TokenLogprobs,
    [property: JsonPropertyName("total_logprob")] double TotalLogprob,
    [property: JsonPropertyName("perplexity")] double Perplexity);

/// <summary><c>eval --perplexity FILE --format json</c>'s line.</summary>
internal sealed record PerplexityLine(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("nll")] double Nll,
    [property: JsonPropertyName("token_perplexity")] double TokenPerplexity,
    [property: JsonPropertyName("byte_perplexity")] double BytePerplexity,
    [property: JsonPropertyName("bits_per_byte")] double BitsPerByte,
    [property: JsonPropertyName("context")] int Context,
    [property: JsonPropertyName("stride")] int Stride)
{
    public static PerplexityLine Of(PerplexityReport r) =>
        new(r.File, r.Tokens, r.Bytes, r.NegativeLogLikelihood, r.TokenPerplexity, r.BytePerplexity, r.BitsPerByte, r.Context, r.Stride);
}

/// <summary><c>eval --tasks FILE --format json</c>'s line.</summary>
internal sealed record TasksLine(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("items")] int Items,
    [property: JsonPropertyName("acc")] double Acc,
    [property: JsonPropertyName("acc_norm")] double AccNorm,
    [property: JsonPropertyName("loglikelihoods")] IReadOnlyList<double[]> LogLikelihoods)
{
    public static TasksLine Of(TasksReport r) => new(r.File, r.Items, r.Accuracy, r.AccuracyNormalized, r.LogLikelihoods);
}

/// <summary>A conversation <c>chat</c>'s <c>/save</c> writes.</summary>
internal sealed record SavedChat([property: JsonPropertyName("messages")] IReadOnlyList<SavedMessage> Messages);

internal sealed record SavedMessage([property: JsonPropertyName("role")] string Role, [property: JsonPropertyName("content")] string Content);

/// <summary>bench-serve's streamed /v1/completions request (token-id prompt, greedy, no end token).</summary>
internal sealed record CompletionRequestBody(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("prompt")] int[] Prompt,
    [property: JsonPropertyName("max_tokens")] int MaxTokens)
{
    [JsonPropertyName("temperature")] public int Temperature => 0;
    [JsonPropertyName("ignore_eos")] public bool IgnoreEos => true;
    [JsonPropertyName("stream")] public bool Stream => true;
    [JsonPropertyName("stream_options")] public StreamOptions Options => new(true);
}

internal sealed record StreamOptions([property: JsonPropertyName("include_usage")] bool IncludeUsage);

using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bamba.Server.Protocol;

/// <summary>
/// Serialization code generated at build time for every type the server reads or writes, so that a trimmed or
/// ahead-of-time compiled <c>bamba serve</c> (where reflection-based serialization is off) answers requests.
/// The options are OpenAI's wire form: snake_case names, nulls left out, numbers only as JSON numbers.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(TokenizeRequest))]
[JsonSerializable(typeof(DetokenizeRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(DetokenizeResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(string))]
internal sealed partial class ProtocolJson : JsonSerializerContext;

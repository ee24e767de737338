using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Bamba.Server.Protocol;
using Microsoft.AspNetCore.Http;

namespace Bamba.Server;

/// <summary>JSON as the OpenAI API writes it (snake_case), and request bodies read with errors a client can act on.</summary>
internal static class JsonProtocol
{
    /// <summary>The generated context's options (<see cref="ProtocolJson"/>), writing non-ASCII text as is, as OpenAI does.</summary>
    public static JsonSerializerOptions Options { get; } = new(ProtocolJson.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = ProtocolJson.Default,
    };

    /// <summary>
    /// Reads the body as <typeparamref name="T"/>; malformed JSON, a field of the wrong type, or text that is not valid
    /// Unicode (an invalid UTF-8 byte, a lone surrogate escape) is a 400 naming the field.
    /// </summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancel) where T : class
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancel).ConfigureAwait(false);
        var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
        if (Bamba.Text.JsonUnicode.FirstInvalidString(bytes) is { } invalid)
            throw new ApiException(400, $"'{invalid}' is not valid Unicode text (an invalid UTF-8 byte or a lone surrogate escape)",
                invalid.StartsWith('(') ? null : invalid, "invalid_value");
        try
        {
            // Parsed whole first, so that malformed JSON is reported as such before any field is looked at.
            using var document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            return document.Deserialize(Info<T>())
                ?? throw new ApiException(400, "the request body must be a JSON object", code: "invalid_json");
        }
        catch (JsonException e) when (UnknownField(e.Message) is { } field)
        {
            throw new ApiException(400, $"the parameter '{field}' is not supported by this server", field, "unsupported_parameter");
        }
        catch (JsonException e)
        {
            string? param = e.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            bool wrongType = e.Message.Contains("could not be converted", StringComparison.Ordinal);
            string message = (param, wrongType) switch
            {
                (null, true) => "the request body must be a JSON object",
                (null, false) => $"the request body is not valid JSON: {FirstSentence(e.Message)}",
                (_, true) => $"'{param}' must be {Expected(e.Message)}",
                _ => $"'{param}' is malformed: {FirstSentence(e.Message)}",
            };
            throw new ApiException(400, message, param, "invalid_json");
        }
    }

    /// <summary>The field named by System.Text.Json's "The JSON property 'x' could not be mapped" (a request type that
    /// disallows unknown members), else null.</summary>
    private static string? UnknownField(string message)
    {
        const string prefix = "The JSON property '";
        if (!message.StartsWith(prefix, StringComparison.Ordinal) || !message.Contains("could not be mapped", StringComparison.Ordinal)) return null;
        int end = message.IndexOf('\'', prefix.Length);
        return end < 0 ? null : message[prefix.Length..end];
    }

    /// <summary>The expected JSON type, in words, from System.Text.Json's "could not be converted to T" message.</summary>
    private static string Expected(string message) =>
        message.Contains("Int32") || message.Contains("Int64") ? "an integer"
        : message.Contains("Single") || message.Contains("Double") ? "a number"
        : message.Contains("Boolean") ? "true or false"
        : message.Contains("String") ? "a string"
        : message.Contains("[]") || message.Contains("List") ? "a list"
        : "an object";

    private static string FirstSentence(string s) => s.Split(". ", 2)[0].TrimEnd('.');

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Info<T>());

    /// <summary>The generated metadata of <typeparamref name="T"/> under <see cref="Options"/> (no reflection).</summary>
    public static JsonTypeInfo<T> Info<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));

    public static ErrorResponse Error(ApiException e) => new(new ErrorBody(e.Message, e.Type, e.Param, e.Code));
}

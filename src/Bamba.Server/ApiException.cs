namespace Bamba.Server;

/// <summary>A request the server refuses, with the HTTP status and OpenAI's error fields.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type;
    /// <summary>Seconds for a Retry-After header (429 only).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiException BadValue(string param, string message) => new(400, message, param, "invalid_value");
}

namespace Bamba.Server;

/// <summary>Where the server listens and who may call it.</summary>
public sealed record ServerOptions
{
    /// <summary>Loopback unless told otherwise: an open port serving a model is an explicit choice.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>When set, /v1/* requires <c>Authorization: Bearer KEY</c>; an empty key is refused, not taken as "no key".</summary>
    public string? ApiKey { get; init; }
    /// <summary>The least severe server log entries written (one line per request at Information).</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;
    /// <summary>Web origins whose pages may call the server (CORS). None by default: a loopback server must not be
    /// callable from any page its user happens to visit.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>Throws a <see cref="BambaException"/> naming the first setting the server cannot start with.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new BambaException($"--port must be in [0, 65535], got {Port}");
        if (ApiKey is not null && string.IsNullOrWhiteSpace(ApiKey))
            throw new BambaException("the API key (--api-key or BAMBA_API_KEY) is empty, which would let anyone in: give a real key, or leave both unset to serve without one");
        foreach (var origin in CorsOrigins)
            if (!IsOrigin(origin))
                throw new BambaException($"--cors-origin: '{origin}' is not an origin (scheme://host[:port], e.g. http://localhost:3000, or *)");
    }

    /// <summary>An origin as browsers send it: scheme, host and port only (no path, query or trailing slash); or * for any.</summary>
    private static bool IsOrigin(string origin) =>
        origin == "*" || Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && uri.GetLeftPart(UriPartial.Authority) == origin.ToLowerInvariant();
}

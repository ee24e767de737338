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

    /// <summary>Throws a <see cref="BambaException"/> naming the first setting the server cannot start with.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new BambaException($"--port must be in [0, 65535], got {Port}");
        if (ApiKey is not null && string.IsNullOrWhiteSpace(ApiKey))
            throw new BambaException("the API key (--api-key or BAMBA_API_KEY) is empty, which would let anyone in: give a real key, or leave both unset to serve without one");
    }
}

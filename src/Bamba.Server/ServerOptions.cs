namespace Bamba.Server;

/// <summary>Where the server listens and who may call it.</summary>
public sealed record ServerOptions
{
    /// <summary>Loopback unless told otherwise: an open port serving a model is an explicit choice.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>When set, /v1/* requires <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
}

using System.Net;
using Bamba.Serving;
using Bamba.Server.Endpoints;
using Bamba.Server.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bamba.Server;

/// <summary>
/// The OpenAI-compatible HTTP server: a thin ASP.NET Core layer over a <see cref="ServingEngine"/> (which it does not own).
/// </summary>
public sealed class BambaServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BambaServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address actually bound (with the real port when 0 was asked for).</summary>
    public Uri Address { get; }

    public static async Task<BambaServer> StartAsync(ServingEngine engine, ServerOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A failed start (port in use) is reported once, as a user error, by StartAsync below: not as a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.WebHost.UseKestrel(k => k.Listen(Bind(options.Host), options.Port));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonProtocol.Options.PropertyNamingPolicy;
            o.SerializerOptions.DefaultIgnoreCondition = JsonProtocol.Options.DefaultIgnoreCondition;
        });
        builder.Services.AddOpenApi();
        var app = builder.Build();
        app.UseOpenAiErrors();
        app.UseApiKey(options.ApiKey);
        Map(app, engine);
        try { await app.StartAsync(cancel); }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new BambaException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BambaServer(app, new Uri(bound));
    }

    private static void Map(WebApplication app, ServingEngine engine)
    {
        var completions = new CompletionsEndpoint(engine);
        var chat = new ChatCompletionsEndpoint(engine);
        app.MapPost("/v1/completions", (Func<HttpContext, Task>)completions.HandleAsync)
            .Accepts<CompletionRequest>("application/json").Produces<CompletionResponse>()
            .Produces<ErrorResponse>(400).Produces<ErrorResponse>(401).Produces<ErrorResponse>(429).WithName("createCompletion");
        app.MapPost("/v1/chat/completions", (Func<HttpContext, Task>)chat.HandleAsync)
            .Accepts<ChatCompletionRequest>("application/json").Produces<ChatCompletionResponse>()
            .Produces<ErrorResponse>(400).Produces<ErrorResponse>(401).Produces<ErrorResponse>(429).WithName("createChatCompletion");
        app.MapGet("/v1/models", () => Results.Json(Models(engine), JsonProtocol.Options)).Produces<ModelList>().WithName("listModels");
        app.MapGet("/health", () => Results.Json(new { status = "ok" })).WithName("health");
        app.MapGet("/metrics", () => Results.Text(PrometheusMetrics.Render(engine.Scheduler.Metrics, engine.ModelId), PrometheusMetrics.ContentType))
            .WithName("metrics");
        app.MapOpenApi(); // /openapi/v1.json
    }

    private static ModelList Models(ServingEngine engine) =>
        new("list", [new ModelCard(engine.ModelId, "model", ChoiceStarter.Now(), "bamba", engine.MaxContext)]);

    private static IPAddress Bind(string host) =>
        host == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var ip) ? ip
        : throw new BambaException($"--host: '{host}' is not an IP address (use 127.0.0.1, 0.0.0.0, ::1 or localhost)");

    /// <summary>Completes when the server stops (Ctrl+C, SIGTERM or <paramref name="cancel"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => _app.WaitForShutdownAsync(cancel);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

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
using OpenTelemetry.Metrics;

namespace Bamba.Server;

/// <summary>
/// The OpenAI-compatible HTTP server: a thin ASP.NET Core layer over a <see cref="ServingEngine"/> (which it does not own).
/// </summary>
public sealed class BambaServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServerMeter _meter;

    private BambaServer(WebApplication app, ServerMeter meter, Uri address)
    {
        _app = app;
        _meter = meter;
        Address = address;
    }

    /// <summary>The address actually bound (with the real port when 0 was asked for).</summary>
    public Uri Address { get; }

    public static async Task<BambaServer> StartAsync(ServingEngine engine, ServerOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        ConfigureLogging(builder.Logging, options.LogLevel);
        builder.WebHost.UseKestrel(k => k.Listen(Bind(options.Host), options.Port));
        builder.Services.AddCors();
        var meter = new ServerMeter(engine.Scheduler.Metrics, engine.ModelId);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ServerMeter.Name)
            .AddView(i => meter.IsForeign(i) ? MetricStreamConfiguration.Drop : null)
            // Every scrape sees the counts as they are now (tests read them right after a request).
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonProtocol.Options.PropertyNamingPolicy;
            o.SerializerOptions.DefaultIgnoreCondition = JsonProtocol.Options.DefaultIgnoreCondition;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ProtocolJson.Default);
        });
        builder.Services.AddOpenApi();
        var app = builder.Build();
        app.UseRequestLog();
        app.UseOpenAiErrors();
        // Before the key check: a browser's preflight (OPTIONS) carries no Authorization header.
        if (options.CorsOrigins.Count > 0) app.UseCors(p => Origins(p, options.CorsOrigins).AllowAnyHeader().AllowAnyMethod());
        app.UseApiKey(options.ApiKey);
        Map(app, engine);
        try { await app.StartAsync(cancel); }
        catch (IOException e)
        {
            await app.DisposeAsync();
            meter.Dispose();
            throw new BambaException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BambaServer(app, meter, new Uri(bound));
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
        var tokenize = new TokenizeEndpoints(engine);
        app.MapPost("/tokenize", (Func<HttpContext, Task>)tokenize.TokenizeAsync)
            .Accepts<TokenizeRequest>("application/json").Produces<TokenizeResponse>().Produces<ErrorResponse>(400).WithName("tokenize");
        app.MapPost("/detokenize", (Func<HttpContext, Task>)tokenize.DetokenizeAsync)
            .Accepts<DetokenizeRequest>("application/json").Produces<DetokenizeResponse>().Produces<ErrorResponse>(400).WithName("detokenize");
        app.MapGet("/v1/models", () => Results.Json(Models(engine), JsonProtocol.Info<ModelList>())).Produces<ModelList>().WithName("listModels");
        app.MapGet("/health", () => Results.Json(new HealthResponse("ok"), JsonProtocol.Info<HealthResponse>())).Produces<HealthResponse>().WithName("health");
        // The exporter's middleware as a GET endpoint, so the OpenAPI document lists it like the others.
        var scrape = ((IApplicationBuilder)app).New().UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null, predicate: _ => true, path: null, configureBranchedPipeline: null, optionsName: null).Build();
        app.MapGet("/metrics", (Func<HttpContext, Task>)(c => scrape(c))).Produces<string>(200, "text/plain").WithName("metrics");
        app.MapOpenApi(); // /openapi/v1.json
        app.MapChatPage();
    }

    /// <summary>
    /// Bamba.Server's per-request lines (<see cref="RequestLog"/>) and warnings at <paramref name="level"/>, one line each on
    /// stderr (stdout is the CLI's); ASP.NET Core's own chatter only from Warning unless Debug or Trace is asked for.
    /// </summary>
    private static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff "; o.UseUtcTimestamp = true; });
        logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", level <= LogLevel.Debug ? level : (LogLevel)Math.Max((int)level, (int)LogLevel.Warning));
        // A failed start (port in use) is reported once, as a user error, by StartAsync below: not as a stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
    }

    private static Microsoft.AspNetCore.Cors.Infrastructure.CorsPolicyBuilder Origins(
        Microsoft.AspNetCore.Cors.Infrastructure.CorsPolicyBuilder policy, IReadOnlyList<string> origins) =>
        origins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins([.. origins]);

    /// <summary>The served model, then each LoRA adapter as <c>MODEL:NAME</c> with the model as its parent.</summary>
    private static ModelList Models(ServingEngine engine)
    {
        long now = ChoiceStarter.Now();
        var cards = engine.ModelIds.Select((id, i) => new ModelCard(id, "model", now, "bamba", engine.MaxContext)
        {
            Parent = i == 0 ? null : engine.ModelId,
        });
        return new("list", [.. cards]);
    }

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
        _meter.Dispose();
    }
}

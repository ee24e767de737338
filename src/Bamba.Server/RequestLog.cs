using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bamba.Server;

/// <summary>
/// What one request did, filled in by its endpoint while it runs: the response id, prompt and generated tokens, and
/// when the first token came. Read once, by <see cref="RequestLog"/>, when the request ends.
/// </summary>
internal sealed class RequestRecord
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _firstToken, _outputTokens;

    public string? Id { get; set; }
    public int PromptTokens { get; set; }
    public long OutputTokens => Interlocked.Read(ref _outputTokens);

    /// <summary>Counts one generated token (any choice); the first one fixes the time to first token.</summary>
    public void Token()
    {
        Interlocked.CompareExchange(ref _firstToken, Stopwatch.GetTimestamp(), 0);
        Interlocked.Increment(ref _outputTokens);
    }

    /// <summary>Seconds from the request's arrival to its first token, or null when none came.</summary>
    public double? TimeToFirstToken => _firstToken == 0 ? null : Stopwatch.GetElapsedTime(_start, _firstToken).TotalSeconds;

    public double Elapsed => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>The request's record, created by <see cref="RequestLog"/> (a fresh one outside it, e.g. in unit tests).</summary>
    public static RequestRecord Of(HttpContext context) =>
        context.Features.Get<RequestRecord>() ?? new RequestRecord();
}

/// <summary>
/// One log line per request when it ends: method, path, status, id, prompt and output tokens, time to first token,
/// output tokens per second after the first, and the total time. Probes and scrapes (/health, /metrics) log at Debug.
/// </summary>
internal static class RequestLog
{
    public const string Category = "Bamba.Server.Requests";

    public static void UseRequestLog(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
        app.Use(async (context, next) =>
        {
            var record = new RequestRecord();
            context.Features.Set(record);
            try { await next(context); }
            finally
            {
                var level = context.Request.Path.StartsWithSegments("/health") || context.Request.Path.StartsWithSegments("/metrics")
                    ? LogLevel.Debug : LogLevel.Information;
                if (logger.IsEnabled(level)) logger.Log(level, "{Line}", Line(context, record));
            }
        });
    }

    internal static string Line(HttpContext context, RequestRecord r)
    {
        static string Ms(double seconds) => (seconds * 1000).ToString("F1", CultureInfo.InvariantCulture);
        int status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
        string line = $"{context.Request.Method} {context.Request.Path} {status} id={r.Id ?? context.TraceIdentifier}";
        if (r.Id is null) return line + $" total_ms={Ms(r.Elapsed)}";
        double total = r.Elapsed;
        string ttft = r.TimeToFirstToken is { } t ? Ms(t) : "-";
        // Decode speed: tokens after the first over the time after it (the first token's wait is the TTFT).
        string rate = r.TimeToFirstToken is { } first && total > first && r.OutputTokens > 1
            ? ((r.OutputTokens - 1) / (total - first)).ToString("F1", CultureInfo.InvariantCulture) : "-";
        return line + $" prompt_tokens={r.PromptTokens} output_tokens={r.OutputTokens} ttft_ms={ttft} tok_s={rate} total_ms={Ms(total)}";
    }
}

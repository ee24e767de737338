using Bamba.Generation.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bamba.Server;

/// <summary>
/// Turns every failure into OpenAI's error shape (<c>{"error": {message, type, param, code}}</c>) with the right status,
/// so no request can take the server down or leak a stack trace.
/// </summary>
internal static class ErrorHandling
{
    public static void UseOpenAiErrors(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
                // Routing answers 404/405/415 with an empty body: give those the OpenAI shape too.
                if (context.Response is { StatusCode: >= 400, HasStarted: false, ContentType: null })
                    await WriteAsync(context, StatusError(context));
            }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away: nobody to answer.
            }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                await WriteAsync(context, Translate(e, app.Logger));
            }
            catch (Exception e)
            {
                // A stream already under way cannot change its status: log, and end the connection.
                app.Logger.LogError(e, "streaming response failed");
                context.Abort();
            }
        });
    }

    public static ApiException Translate(Exception e, ILogger logger) => e switch
    {
        ApiException api => api,
        SchedulerFullException full => new ApiException(429, full.Message, code: "rate_limit_exceeded", type: "rate_limit_error")
        { RetryAfterSeconds = (int)Math.Ceiling(full.RetryAfter.TotalSeconds) },
        BambaException user => new ApiException(400, user.Message, code: "invalid_value"),
        BadHttpRequestException bad => new ApiException(bad.StatusCode, bad.Message, code: "bad_request"),
        OperationCanceledException => new ApiException(499, "the request was cancelled", code: "cancelled"),
        _ => Internal(e, logger),
    };

    private static ApiException StatusError(HttpContext context) => context.Response.StatusCode switch
    {
        404 => new ApiException(404, $"no route {context.Request.Method} {context.Request.Path}", code: "not_found"),
        405 => new ApiException(405, $"{context.Request.Method} is not allowed on {context.Request.Path}", code: "method_not_allowed"),
        415 => new ApiException(415, "the request body must be JSON (Content-Type: application/json)", code: "unsupported_media_type"),
        int status => new ApiException(status, $"the request failed with status {status}", code: "http_error"),
    };

    public static async Task WriteAsync(HttpContext context, ApiException e)
    {
        context.Response.Clear();
        context.Response.StatusCode = e.Status;
        if (e.RetryAfterSeconds is int seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonProtocol.Serialize(JsonProtocol.Error(e)), context.RequestAborted);
    }

    private static ApiException Internal(Exception e, ILogger logger)
    {
        // A bug, not the client's doing: the log gets the exception, the client no .NET internals.
        logger.LogError(e, "request failed");
        return new ApiException(500, "internal server error (the server's log has the details)", code: "internal_error", type: "server_error");
    }
}

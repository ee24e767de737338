using Microsoft.AspNetCore.Http;

namespace Bamba.Server;

/// <summary>The OpenAI streaming wire format: <c>data: {json}</c> events, flushed one by one, ending with <c>data: [DONE]</c>.</summary>
internal sealed class ServerSentEvents(HttpResponse response)
{
    public async Task StartAsync()
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies must not hold events back
        await response.StartAsync(response.HttpContext.RequestAborted);
        // Send the headers now: a queued request's client should see its stream open before the first token.
        await response.Body.FlushAsync(response.HttpContext.RequestAborted);
    }

    public Task SendAsync<T>(T payload) => WriteAsync(JsonProtocol.Serialize(payload));

    public Task DoneAsync() => WriteAsync("[DONE]");

    /// <summary>
    /// Runs the body of a stream; a failure after the headers went out (the status can no longer change) becomes an
    /// OpenAI-shaped error event followed by [DONE], so clients see why the stream ended early.
    /// </summary>
    public async Task RunAsync(Func<Task> body, Microsoft.Extensions.Logging.ILogger logger)
    {
        try { await body(); }
        catch (Exception e) when (!response.HttpContext.RequestAborted.IsCancellationRequested)
        {
            await SendAsync(JsonProtocol.Error(ErrorHandling.Translate(e, logger)));
            await DoneAsync();
        }
    }

    private async Task WriteAsync(string data)
    {
        var cancel = response.HttpContext.RequestAborted;
        await response.WriteAsync("data: " + data + "\n\n", cancel);
        await response.Body.FlushAsync(cancel);
    }
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;

namespace Bamba.Server;

/// <summary>With an API key configured, every /v1/* call needs <c>Authorization: Bearer KEY</c> (401 otherwise);
/// /health and /metrics stay open for probes and scrapers.</summary>
internal static class ApiKeyCheck
{
    public static void UseApiKey(this WebApplication app, string? key)
    {
        if (string.IsNullOrEmpty(key)) return;
        var expected = Encoding.UTF8.GetBytes("Bearer " + key);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/v1"))
            {
                var given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
                // Constant-time comparison: the time taken must not tell how much of the key was right.
                if (!CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    await ErrorHandling.WriteAsync(context, new ApiException(401, "invalid or missing API key (send 'Authorization: Bearer KEY')",
                        code: "invalid_api_key", type: "authentication_error"));
                    return;
                }
            }
            await next(context);
        });
    }
}

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
        if (key is null) return; // ServerOptions.Validate refuses an empty key before this
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes("Bearer " + key));
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/v1"))
            {
                var given = SHA256.HashData(Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()));
                // Constant-time comparison of fixed-size digests: the time taken tells neither how much of the key was
                // right nor how long it is.
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

using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Bamba.Server;

/// <summary>
/// The chat page at <c>/</c>: three files compiled into this assembly (ChatPage/*), served as they are, with nothing
/// fetched from elsewhere (no CDN, no build step). The page calls the API like any client, so --api-key applies to it.
/// </summary>
internal static class ChatPage
{
    private static readonly (string Path, string Resource, string ContentType)[] Files =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/chat.js", "chat.js", "text/javascript; charset=utf-8"),
        ("/chat.css", "chat.css", "text/css; charset=utf-8"),
    ];

    public static void MapChatPage(this WebApplication app)
    {
        foreach (var (path, resource, contentType) in Files)
        {
            byte[] content = Read(resource);
            app.MapGet(path, () => Results.Bytes(content, contentType)).ExcludeFromDescription();
        }
    }

    private static byte[] Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Bamba.Server.ChatPage." + name)
            ?? throw new InvalidOperationException($"the chat page's {name} is not embedded in Bamba.Server");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

using System.Text;
using System.Text.Json;
using Bamba.Serving;
using Bamba.Server.Protocol;

namespace Bamba.Server.Endpoints;

/// <summary>Chat messages from the wire to the chat template's turns: roles checked, text parts joined.</summary>
internal static class ChatMessages
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    public static List<ChatTurn> Parse(ChatMessageDto[]? messages)
    {
        if (messages is null || messages.Length == 0) throw ApiException.BadValue("messages", "messages must be a non-empty list");
        var turns = new List<ChatTurn>();
        for (int i = 0; i < messages.Length; i++)
        {
            var m = messages[i] ?? throw ApiException.BadValue($"messages[{i}]", "a message must be an object");
            if (m.Role is null || !Roles.Contains(m.Role))
                throw ApiException.BadValue($"messages[{i}].role", $"role must be one of {string.Join(", ", Roles)}, got '{m.Role}'");
            turns.Add(new ChatTurn(m.Role, Content(m.Content, i)) { ToolCalls = ToolMapping.Calls(m.ToolCalls, i), ToolCallId = m.ToolCallId });
        }
        return turns;
    }

    private static string Content(JsonElement? content, int i)
    {
        if (content is not { } c || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array)
            throw ApiException.BadValue($"messages[{i}].content", "content must be a string or a list of content parts");
        var text = new StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type)
                || type.ValueKind != JsonValueKind.String || type.GetString() != "text"
                || !part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw ApiException.BadValue($"messages[{i}].content", "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported");
            text.Append(t.GetString());
        }
        return text.ToString();
    }
}

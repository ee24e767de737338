using System.Text.Json;
using Bamba.Serving;
using Bamba.Serving.Tools;
using Bamba.Server.Protocol;

namespace Bamba.Server.Endpoints;

/// <summary>tools, tool_choice and tool calls between the wire and <see cref="ToolRequest"/>; every bad value a 400 naming it.</summary>
internal static class ToolMapping
{
    /// <summary>Null when the request has no tools and no tool_choice.</summary>
    public static ToolRequest? Request(ChatCompletionRequest r, ServingEngine engine)
    {
        if (r.Tools is null && r.ToolChoice is null) return null;
        var tools = (r.Tools ?? []).Select(Tool).ToList();
        var choice = Choice(r.ToolChoice, tools.Count > 0);
        try { return new ToolRequest(tools, choice, RequestMapping.Text(engine, "tools")); }
        catch (BambaException e) { throw ApiException.BadValue(choice.Forces ? "tool_choice" : "tools", e.Message); }
    }

    public static List<ToolCallDto> Calls(IEnumerable<ToolCall> calls, bool indexed) => calls.Select((c, i) => new ToolCallDto
    {
        Index = indexed ? i : null, Id = c.Id, Type = "function", Function = new FunctionCallDto { Name = c.Name, Arguments = c.Arguments },
    }).ToList();

    /// <summary>The calls of an assistant message in the request.</summary>
    public static List<ToolCall>? Calls(ToolCallDto[]? calls, int message)
    {
        if (calls is null) return null;
        return calls.Select((c, i) =>
        {
            if (c?.Function?.Name is not { } name)
                throw ApiException.BadValue($"messages[{message}].tool_calls[{i}].function.name", "a tool call needs a function name");
            return new ToolCall(c.Id ?? ToolCall.NewId(), name, c.Function.Arguments ?? "{}");
        }).ToList();
    }

    private static ToolDefinition Tool(ToolDto? t, int i)
    {
        if (t is null || t.Type != "function")
            throw ApiException.BadValue($"tools[{i}].type", $"tools[{i}] must be {{\"type\": \"function\", \"function\": {{...}}}}");
        if (t.Function?.Name is not { Length: > 0 } name) throw ApiException.BadValue($"tools[{i}].function.name", "a tool needs a function name");
        var parameters = t.Function.Parameters is { ValueKind: JsonValueKind.Object } p ? p : EmptyObjectSchema;
        return new ToolDefinition(name, t.Function.Description, parameters);
    }

    private static ToolChoice Choice(JsonElement? value, bool hasTools)
    {
        if (value is not { } v || v.ValueKind == JsonValueKind.Null) return hasTools ? ToolChoice.Auto : ToolChoice.None;
        if (v.ValueKind == JsonValueKind.String)
            return v.GetString() switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                var other => throw ApiException.BadValue("tool_choice", $"tool_choice must be none, auto, required or a named function, got '{other}'"),
            };
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
            && f.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            return new ToolChoice(ToolChoiceMode.Named, name.GetString());
        throw ApiException.BadValue("tool_choice", "tool_choice must be a string or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }

    private static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type": "object", "properties": {}}""").RootElement.Clone();
}

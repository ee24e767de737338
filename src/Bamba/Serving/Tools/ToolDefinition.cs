using System.Text.Json;

namespace Bamba.Serving.Tools;

/// <summary>A function the model may call: its name, what it does, and a JSON schema of its arguments.</summary>
public sealed record ToolDefinition(string Name, string? Description, JsonElement Parameters)
{
    /// <summary>OpenAI's tool shape, which chat templates render: {"type": "function", "function": {...}}.</summary>
    public Dictionary<string, object?> ToTemplateValue()
    {
        var function = new Dictionary<string, object?> { ["name"] = Name };
        if (Description is not null) function["description"] = Description;
        function["parameters"] = Parameters;
        return new Dictionary<string, object?> { ["type"] = "function", ["function"] = function };
    }
}

/// <summary>A call the model made: an id for the tool's answer to refer to, the function, and its arguments as JSON text.</summary>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>As a template reads it in an assistant turn (arguments parsed, as templates apply tojson to them).</summary>
    public Dictionary<string, object?> ToTemplateValue()
    {
        object? arguments;
        try { arguments = JsonDocument.Parse(Arguments).RootElement.Clone(); }
        catch (JsonException) { arguments = Arguments; }
        return new Dictionary<string, object?>
        {
            ["id"] = Id, ["type"] = "function",
            ["function"] = new Dictionary<string, object?> { ["name"] = Name, ["arguments"] = arguments },
        };
    }
}

/// <summary>OpenAI's tool_choice: none, auto, required, or one named function.</summary>
public sealed record ToolChoice(ToolChoiceMode Mode, string? Name = null)
{
    public static ToolChoice None { get; } = new(ToolChoiceMode.None);
    public static ToolChoice Auto { get; } = new(ToolChoiceMode.Auto);
    public static ToolChoice Required { get; } = new(ToolChoiceMode.Required);

    /// <summary>Whether the output must be a call (so decoding is constrained to the tools' schemas).</summary>
    public bool Forces => Mode is ToolChoiceMode.Required or ToolChoiceMode.Named;
}

public enum ToolChoiceMode { None, Auto, Required, Named }

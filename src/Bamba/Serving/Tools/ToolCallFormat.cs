using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bamba.Generation.Constraints;

namespace Bamba.Serving.Tools;

/// <summary>
/// How a model family writes tool calls, found from its chat template: Granite 4 and Hermes/Qwen put
/// <c>{"name": ..., "arguments": {...}}</c> between <c>&lt;tool_call&gt;</c> tags; Llama 3.x answers with a bare
/// <c>{"name": ..., "parameters": {...}}</c>. Parses the output into calls, and gives the grammar that forces one call
/// (tool_choice required or named), written as the template itself writes past calls.
/// </summary>
public sealed class ToolCallFormat
{
    private const string OpenTag = "<tool_call>", CloseTag = "</tool_call>", PythonTag = "<|python_tag|>";

    private readonly bool _tagged;

    private ToolCallFormat(string name, bool tagged, string argumentsKey)
    {
        Name = name;
        _tagged = tagged;
        ArgumentsKey = argumentsKey;
    }

    public static ToolCallFormat Tagged { get; } = new("tagged", tagged: true, "arguments");
    public static ToolCallFormat Llama3Json { get; } = new("llama3-json", tagged: false, "parameters");

    /// <summary>"tagged" or "llama3-json".</summary>
    public string Name { get; }
    /// <summary>The key the arguments object goes under.</summary>
    public string ArgumentsKey { get; }

    /// <summary>The format a chat template renders tools for; null when it does not render tools.</summary>
    public static ToolCallFormat? Detect(string? template) =>
        template is null || !template.Contains("tools", StringComparison.Ordinal) ? null
        : template.Contains(OpenTag, StringComparison.Ordinal) ? Tagged
        : template.Contains("\"parameters\": ", StringComparison.Ordinal) ? Llama3Json
        : null;

    /// <summary>Where a call would begin: output that may still turn into one is held back when streaming.</summary>
    public string Marker => _tagged ? OpenTag : "{";

    /// <summary>The calls in <paramref name="text"/> and the text around them (null when none is left).</summary>
    public (string? Content, List<ToolCall> Calls) Parse(string text)
    {
        var calls = new List<ToolCall>();
        if (!_tagged)
        {
            string body = text.Trim();
            if (body.StartsWith(PythonTag, StringComparison.Ordinal)) body = body[PythonTag.Length..].Trim();
            return TryCall(body) is { } call ? (null, [call]) : (text, calls);
        }
        var content = new StringBuilder();
        int at = 0;
        while (text.IndexOf(OpenTag, at, StringComparison.Ordinal) is int open and >= 0)
        {
            int close = text.IndexOf(CloseTag, open, StringComparison.Ordinal);
            int end = close < 0 ? text.Length : close;
            if (TryCall(text[(open + OpenTag.Length)..end].Trim()) is not { } call) break;
            content.Append(text, at, open - at);
            calls.Add(call);
            at = close < 0 ? text.Length : close + CloseTag.Length;
        }
        content.Append(text, at, text.Length - at);
        string rest = content.ToString().Trim();
        return (calls.Count == 0 ? text : rest.Length == 0 ? null : rest, calls);
    }

    /// <summary>The grammar of one call to one of <paramref name="tools"/>, arguments valid against its schema.</summary>
    public Grammar CallGrammar(IReadOnlyList<ToolDefinition> tools)
    {
        var call = new GrammarRule("call");
        foreach (var tool in tools)
        {
            var arguments = JsonSchemaGrammar.Compile(tool.Parameters).Root;
            call.Or($"{{\"name\": \"{JsonEncodedText.Encode(tool.Name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\", \"{ArgumentsKey}\": ", arguments, "}");
        }
        var root = new GrammarRule("tool-call");
        if (_tagged) root.Or(OpenTag + "\n", call, "\n" + CloseTag);
        else root.Or(call);
        return new Grammar(root);
    }

    private ToolCall? TryCall(string json)
    {
        JsonObject? obj;
        try { obj = JsonNode.Parse(json) as JsonObject; }
        catch (JsonException) { return null; }
        if (obj?["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String) return null;
        var arguments = obj[ArgumentsKey] ?? obj["arguments"] ?? obj["parameters"];
        string argumentsText = arguments is null ? "{}"
            : arguments.GetValueKind() == JsonValueKind.String ? arguments.GetValue<string>()
            : arguments.ToJsonString();
        return new ToolCall(ToolCall.NewId(), name.GetValue<string>(), argumentsText);
    }
}

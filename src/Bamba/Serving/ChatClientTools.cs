using System.Text.Json;
using Bamba.Generation.Constraints;
using Bamba.Serving.Tools;
using Microsoft.Extensions.AI;

namespace Bamba.Serving;

/// <summary>
/// Microsoft.Extensions.AI's tools, tool mode, function calls and results and response format, as the engine takes
/// them: what lets <c>UseFunctionInvocation()</c> and <c>GetResponseAsync&lt;T&gt;</c> work in-process.
/// </summary>
internal static class ChatClientTools
{
    public static ToolRequest? Request(ChatOptions? options, ServingEngine engine)
    {
        var functions = options?.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (functions.Count == 0) return null;
        var tools = functions.Select(f => new ToolDefinition(f.Name, f.Description, f.JsonSchema)).ToList();
        var choice = options!.ToolMode switch
        {
            NoneChatToolMode => ToolChoice.None,
            RequiredChatToolMode { RequiredFunctionName: { } name } => new ToolChoice(ToolChoiceMode.Named, name),
            RequiredChatToolMode => ToolChoice.Required,
            _ => ToolChoice.Auto,
        };
        var text = engine.Text ?? throw new BambaException($"the model '{engine.ModelId}' has no tokenizer, so it cannot call tools");
        return new ToolRequest(tools, choice, text);
    }

    /// <summary>The grammar a response format asks for: any object, or the schema's values (null for text).</summary>
    public static TokenGrammar? ResponseGrammar(ChatOptions? options, ServingEngine engine) => options?.ResponseFormat switch
    {
        ChatResponseFormatJson { Schema: { } schema } => engine.Grammars.Schema(schema),
        ChatResponseFormatJson => engine.Grammars.AnyObject(),
        _ => null,
    };

    /// <summary>A message as template turns: its text, the calls it made, and each function result as a tool turn.</summary>
    public static IEnumerable<ChatTurn> Turns(ChatMessage message)
    {
        var calls = message.Contents.OfType<FunctionCallContent>()
            .Select(c => new ToolCall(c.CallId, c.Name, JsonSerializer.Serialize(c.Arguments, Info(typeof(IDictionary<string, object?>))))).ToList();
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count == 0 || message.Text.Length > 0 || calls.Count > 0)
            yield return new ChatTurn(message.Role.Value, message.Text) { ToolCalls = calls.Count == 0 ? null : calls };
        foreach (var r in results)
            yield return new ChatTurn("tool", r.Result is string s ? s : JsonSerializer.Serialize(r.Result, Info(typeof(object)))) { ToolCallId = r.CallId };
    }

    /// <summary>The reply's contents: text around the calls, then each call with its arguments parsed.</summary>
    public static List<AIContent> Contents(ToolRequest? tools, string text)
    {
        var (content, calls) = tools?.Parse(text) ?? (text, []);
        var contents = new List<AIContent>();
        if (content is { Length: > 0 }) contents.Add(new TextContent(content));
        contents.AddRange(calls.Select(Call));
        return contents;
    }

    /// <summary>A parsed call with its arguments as a dictionary (what function invocation binds parameters from).</summary>
    public static FunctionCallContent Call(ToolCall call) => new(call.Id, call.Name,
        (Dictionary<string, object?>?)JsonSerializer.Deserialize(call.Arguments, Info(typeof(Dictionary<string, object?>))));

    /// <summary>Microsoft.Extensions.AI's own serializer settings (its resolver keeps this trimmable).</summary>
    private static System.Text.Json.Serialization.Metadata.JsonTypeInfo Info(Type type) => AIJsonUtilities.DefaultOptions.GetTypeInfo(type);
}

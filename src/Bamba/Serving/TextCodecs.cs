using Bamba.Serving.Tools;
using Bamba.Tokenization;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Serving;

/// <summary>Finds the text codec of a model directory or GGUF file (its tokenizer and chat template), if it has one.</summary>
public static class TextCodecs
{
    /// <summary>
    /// Null when the model has no tokenizer: such a model is served with token-id prompts only.
    /// <paramref name="chatTemplate"/> (Jinja source), when given, replaces the tokenizer's own chat template.
    /// </summary>
    public static ITextCodec? Load(string directory, string? chatTemplate = null) =>
        TryLoadTokenizer(directory) is { } tokenizer ? new HfTextCodec(tokenizer, ChatRenderer(tokenizer, chatTemplate)) : null;

    /// <summary>
    /// A model's tokenizer: DIR/tokenizer.json, or the <c>tokenizer.ggml.*</c> keys (and <c>tokenizer.chat_template</c>)
    /// of a GGUF file; null when it has none (token-id prompts only).
    /// </summary>
    public static HfTokenizer? TryLoadTokenizer(string model) =>
        Weights.Gguf.GgufModel.IsGgufPath(model) ? Weights.Gguf.GgufTokenizer.TryLoad(model)
        : File.Exists(Path.Combine(model, "tokenizer.json")) ? HfTokenizer.Load(model) : null;

    /// <summary>
    /// The tokenizer's Jinja chat template as a renderer (null without one), given bos_token and eos_token as
    /// transformers' apply_chat_template does. Parsed once, at load, so a broken template fails the load.
    /// </summary>
    public static Func<IReadOnlyList<ChatTurn>, bool, IReadOnlyList<ToolDefinition>?, string>? ChatRenderer(HfTokenizer tokenizer, string? source = null)
    {
        source ??= tokenizer.ChatTemplate;
        if (source is not { Length: > 0 }) return null;
        var template = ChatTemplate.Parse(source);
        var variables = new Dictionary<string, object?> { ["bos_token"] = tokenizer.BosToken ?? "", ["eos_token"] = tokenizer.EosToken ?? "" };
        return (turns, addGenerationPrompt, tools) => template.Render(turns.Select(Message).ToList(), addGenerationPrompt,
            tools is { Count: > 0 } ? new Dictionary<string, object?>(variables) { ["tools"] = tools.Select(t => t.ToTemplateValue()).ToList() } : variables);
    }

    /// <summary>A turn as templates read it: tool calls and the id a tool's answer refers to as extra fields.</summary>
    private static ChatMessage Message(ChatTurn turn)
    {
        var extra = new Dictionary<string, object?>();
        if (turn.ToolCalls is { Count: > 0 } calls) extra["tool_calls"] = calls.Select(c => c.ToTemplateValue()).ToList();
        if (turn.ToolCallId is { } id) extra["tool_call_id"] = id;
        return new ChatMessage(turn.Role, turn.Content, extra.Count == 0 ? null : extra);
    }
}

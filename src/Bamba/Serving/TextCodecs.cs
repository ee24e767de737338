using Bamba.Tokenization;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Serving;

/// <summary>Finds the text codec of a model directory (its tokenizer.json and chat template), if it has one.</summary>
public static class TextCodecs
{
    /// <summary>
    /// Null when the directory has no tokenizer.json: such a model is served with token-id prompts only.
    /// <paramref name="chatTemplate"/> (Jinja source), when given, replaces the tokenizer's own chat template.
    /// </summary>
    public static ITextCodec? Load(string directory, string? chatTemplate = null)
    {
        if (!File.Exists(Path.Combine(directory, "tokenizer.json"))) return null;
        var tokenizer = HfTokenizer.Load(directory);
        return new HfTextCodec(tokenizer, ChatRenderer(tokenizer, chatTemplate ?? tokenizer.ChatTemplate));
    }

    /// <summary>
    /// The tokenizer's Jinja chat template as a renderer (null without one), given bos_token and eos_token as
    /// transformers' apply_chat_template does. Parsed once, at load, so a broken template fails the load.
    /// </summary>
    private static Func<IReadOnlyList<ChatTurn>, bool, string>? ChatRenderer(HfTokenizer tokenizer, string? source)
    {
        if (source is not { Length: > 0 }) return null;
        var template = ChatTemplate.Parse(source);
        var variables = new Dictionary<string, object?> { ["bos_token"] = tokenizer.BosToken ?? "", ["eos_token"] = tokenizer.EosToken ?? "" };
        return (turns, addGenerationPrompt) =>
            template.Render(turns.Select(t => new ChatMessage(t.Role, t.Content)).ToList(), addGenerationPrompt, variables);
    }
}

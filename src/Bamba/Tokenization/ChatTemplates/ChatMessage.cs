namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// One chat turn as templates see it: a dictionary with <c>role</c>, <c>content</c> and any extra fields
/// (for example <c>tool_calls</c> or <c>name</c>). Extra values may be strings, numbers, booleans, null,
/// lists, dictionaries or System.Text.Json elements; they are converted to template values when rendering.
/// </summary>
public sealed record ChatMessage(string Role, string? Content, IReadOnlyDictionary<string, object?>? Extra = null)
{
    /// <summary>The message as the ordered dictionary a template indexes (<c>message['role']</c>, <c>message.content</c>).</summary>
    internal JinjaDict ToTemplateValue()
    {
        var dict = new JinjaDict();
        dict.Set("role", Role);
        dict.Set("content", Content);
        if (Extra is not null)
            foreach (var (key, value) in Extra) dict.Set(key, Values.FromHost(value));
        return dict;
    }
}

using Bamba.Serving;
using Bamba.Tokenization;

namespace Bamba.Training.Data;

/// <summary>Which tokens of a chat or prompt/completion example carry the loss.</summary>
public enum TrainOn { Assistant, All }

/// <summary>
/// Turns chat conversations and prompt/completion pairs into token ids and labels. With <see cref="TrainOn.Assistant"/>
/// every label is −100 except an assistant turn's content as the template renders it plus the special token that
/// closes it (eos or eot), which is what the <c>{% generation %}</c> blocks of TRL's assistant-only templates mark;
/// the role headers and the generation prompt stay unlabelled. The text is rendered once, cut at those spans, and
/// each piece is encoded on its own (templates put special tokens at the cuts, so this equals encoding the whole).
/// </summary>
public sealed class SupervisedEncoder(HfTokenizer tokenizer, Func<IReadOnlyList<ChatTurn>, bool, IReadOnlyList<Serving.Tools.ToolDefinition>?, string>? renderChat, TrainOn trainOn)
{
    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal) { "system", "user", "assistant", "tool" };

    public (int[] Ids, int[] Labels) Conversation(IReadOnlyList<ChatTurn> messages)
    {
        if (messages.Count == 0) throw new BambaException("\"messages\" is empty");
        for (int i = 0; i < messages.Count; i++)
            if (!Roles.Contains(messages[i].Role))
                throw new BambaException($"message {i}: unknown role '{messages[i].Role}' (expected system, user, assistant or tool)");
        if (trainOn == TrainOn.Assistant && !messages.Any(m => m.Role == "assistant"))
            throw new BambaException("no assistant message: nothing to train on (or pass --train-on all)");
        if (renderChat is null) throw new BambaException("the tokenizer has no chat_template (tokenizer_config.json) to render \"messages\"");
        string text = renderChat(messages, false, null);
        var ids = new List<int>();
        var labels = new List<int>();
        int at = 0;
        foreach (var (start, end) in AssistantSpans(messages, text))
        {
            Append(text[at..start], trained: false, ids, labels);
            Append(text[start..end], trained: true, ids, labels);
            at = end;
        }
        Append(text[at..], trained: false, ids, labels);
        return (ids.ToArray(), labels.ToArray());
    }

    /// <summary>The prompt then the completion and eos; the loss covers the completion and eos (or all with --train-on all).</summary>
    public (int[] Ids, int[] Labels) PromptCompletion(string prompt, string completion)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        Append(prompt, trained: false, ids, labels);
        Append(completion, trained: true, ids, labels);
        if (tokenizer.EosId is int eos) { ids.Add(eos); labels.Add(eos); }
        return (ids.ToArray(), labels.ToArray());
    }

    private void Append(string text, bool trained, List<int> ids, List<int> labels)
    {
        if (text.Length == 0) return;
        var piece = tokenizer.Encode(text);
        ids.AddRange(piece);
        bool labelled = trained || trainOn == TrainOn.All;
        foreach (int id in piece) labels.Add(labelled ? id : TrainingBatch.IgnoreIndex);
    }

    /// <summary>Character spans of the rendered text that an assistant wrote, in order.</summary>
    private List<(int Start, int End)> AssistantSpans(IReadOnlyList<ChatTurn> messages, string text)
    {
        var spans = new List<(int, int)>();
        int cursor = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            // The turns before, with the generation prompt, are where the assistant's text can start at the earliest.
            if (RenderPrefix(messages, i) is { } before && text.StartsWith(before, StringComparison.Ordinal))
                cursor = Math.Max(cursor, before.Length);
            string content = messages[i].Content.Trim();
            int start = text.IndexOf(content, cursor, StringComparison.Ordinal);
            if (start < 0) throw new BambaException($"message {i}: the chat template does not reproduce this assistant message's text");
            int end = start + content.Length;
            end += ClosingSpecialToken(text, end);
            spans.Add((start, end));
            cursor = end;
        }
        return spans;
    }

    private string? RenderPrefix(IReadOnlyList<ChatTurn> messages, int count)
    {
        try { return renderChat!(messages.Take(count).ToList(), true, null); }
        catch (BambaException) { return null; } // a template may refuse a conversation that starts with the assistant
    }

    /// <summary>The length of the special token (eos, eot, end-of-turn) that starts at <paramref name="at"/>, or 0.</summary>
    private int ClosingSpecialToken(string text, int at)
    {
        int longest = 0;
        foreach (var token in tokenizer.AddedTokens)
            if (token.Special && token.Content.Length > longest && text.AsSpan(at).StartsWith(token.Content, StringComparison.Ordinal))
                longest = token.Content.Length;
        return longest;
    }
}

namespace Bamba.Serving;

/// <summary>One chat message as a chat template sees it.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// What serving needs from a model's tokenizer and chat template: text ↔ ids, one token's text (for logprobs) and
/// the rendered chat prompt. A model without <c>tokenizer.json</c> has none and is served with token ids only.
/// </summary>
public interface ITextCodec
{
    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the tokenizer's BOS etc.</summary>
    int[] Encode(string text, bool addSpecialTokens);

    /// <summary>Text of <paramref name="ids"/>, special tokens (EOS, chat markers) left out.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>A decoder for one stream of generated ids (special tokens left out): each id returns the text it completes.</summary>
    ITextDecoder CreateDecoder();

    /// <summary>The text of one token as it stands in the vocabulary's decoding (special tokens included).</summary>
    string TokenText(int id);

    bool HasChatTemplate { get; }

    /// <summary>The most input characters one token can stand for; null when unknown (no text is refused unread).</summary>
    int? MaxCharsPerToken => null;

    /// <summary>The chat template applied to <paramref name="messages"/>; throws <see cref="BambaException"/> if there is none.</summary>
    string RenderChat(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt);

    /// <summary>Whether the rendered chat already starts with the BOS token (then encoding must not add another).</summary>
    bool ChatIncludesSpecialTokens => true;
}

/// <summary>Ids in, text out, one id at a time; the pieces concatenate to the decoding of all ids.</summary>
public interface ITextDecoder
{
    /// <summary>The text this id completes ("" while a character is still incomplete).</summary>
    string Add(int id);

    /// <summary>Whatever is still held back.</summary>
    string Flush();
}

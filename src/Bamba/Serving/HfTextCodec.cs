using Bamba.Tokenization;

namespace Bamba.Serving;

/// <summary>
/// A model directory's Hugging Face tokenizer as serving uses it. The chat template is rendered by
/// <paramref name="renderChat"/> (null when the tokenizer has no template or no renderer is available).
/// </summary>
public sealed class HfTextCodec(HfTokenizer tokenizer, Func<IReadOnlyList<ChatTurn>, bool, string>? renderChat) : ITextCodec
{
    public HfTokenizer Tokenizer => tokenizer;

    public int[] Encode(string text, bool addSpecialTokens) => tokenizer.Encode(text, addSpecialTokens);

    public string Decode(IReadOnlyList<int> ids) => tokenizer.Decode(ids.ToArray(), skipSpecialTokens: true);

    public ITextDecoder CreateDecoder() => new Streaming(tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true));

    public string TokenText(int id) => tokenizer.Decode([id]);

    public bool HasChatTemplate => renderChat is not null;

    public int? MaxCharsPerToken => tokenizer.MaxCharsPerToken;

    public string RenderChat(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt) =>
        (renderChat ?? throw new BambaException("the tokenizer has no chat template"))(messages, addGenerationPrompt);

    /// <summary>Templates write the BOS token themselves, as transformers' apply_chat_template expects.</summary>
    public bool ChatIncludesSpecialTokens => true;

    private sealed class Streaming(IncrementalDecoder decoder) : ITextDecoder
    {
        public string Add(int id) => decoder.Add(id);
        public string Flush() => decoder.Flush();
    }
}

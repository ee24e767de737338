using System.Collections.Concurrent;
using Bamba.Generation.Constraints;

namespace Bamba.Serving;

/// <summary>
/// Compiled grammars bound to one model's vocabulary, by key (a schema's text), so that requests with the same
/// schema share one matcher and with it every state and token mask computed so far.
/// </summary>
public sealed class GrammarCache(ITextCodec? text, int vocabSize, int capacity = 64)
{
    private readonly ConcurrentDictionary<string, TokenGrammar> _grammars = new(StringComparer.Ordinal);
    private readonly Lazy<TokenVocabulary?> _vocabulary =
        new(() => text?.TokenBytes() is { } bytes ? new TokenVocabulary(bytes, vocabSize) : null);

    /// <summary>The grammar of JSON values valid against <paramref name="schema"/> (throws <see cref="UnsupportedSchemaException"/>).</summary>
    public TokenGrammar Schema(System.Text.Json.JsonElement schema) =>
        Get("schema:" + schema.GetRawText(), () => JsonSchemaGrammar.Compile(schema.Clone()));

    /// <summary>The grammar of any JSON object.</summary>
    public TokenGrammar AnyObject() => Get("json_object", JsonSchemaGrammar.AnyObject);

    /// <summary>The grammar of <paramref name="key"/>, compiled by <paramref name="compile"/> on first use.</summary>
    public TokenGrammar Get(string key, Func<Grammar> compile)
    {
        if (_grammars.TryGetValue(key, out var known)) return known;
        var vocabulary = _vocabulary.Value ?? throw new BambaException("constrained decoding needs the model's tokenizer.json; this model has none");
        var grammar = new TokenGrammar(compile(), vocabulary);
        if (_grammars.Count >= capacity) _grammars.Clear(); // rare: many distinct schemas; start over rather than grow
        return _grammars.GetOrAdd(key, grammar);
    }
}

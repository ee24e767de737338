using System.Text;
using System.Text.Json;
using Bamba.Generation.Constraints;

namespace Bamba.Tests;

/// <summary>
/// Grammars for the fixture models, which have no tokenizer: ids 0..255 (except the special ids) write their own byte,
/// a few ids above write JSON fragments of several bytes (so a token may cross a grammar rule's edge), the rest nothing.
/// </summary>
public static class ByteGrammars
{
    private static readonly string[] Fragments = ["{\"", "\":", "\",", "\": \"", "true", "false", "null", "\"}", "12", "\"a"];

    /// <summary>A vocabulary of <paramref name="size"/> ids in which <paramref name="special"/> write nothing.</summary>
    public static TokenVocabulary Vocabulary(int size, IEnumerable<int> special)
    {
        var bytes = new byte[]?[size];
        for (int id = 0; id < Math.Min(256, size); id++) bytes[id] = [(byte)id];
        for (int i = 0; i < Fragments.Length && 256 + i < size; i++) bytes[256 + i] = Encoding.UTF8.GetBytes(Fragments[i]);
        foreach (int id in special) if ((uint)id < (uint)size) bytes[id] = null;
        return new TokenVocabulary(bytes, size);
    }

    public static TokenGrammar Schema(string schema, int size, IEnumerable<int> special)
    {
        using var doc = JsonDocument.Parse(schema);
        return new TokenGrammar(JsonSchemaGrammar.Compile(doc.RootElement.Clone()), Vocabulary(size, special));
    }

    /// <summary>The bytes <paramref name="ids"/> write (special ids write none).</summary>
    public static byte[] Text(TokenGrammar grammar, IEnumerable<int> ids) =>
        [.. ids.SelectMany(id => grammar.Vocabulary.TokenBytes[id] ?? [])];
}

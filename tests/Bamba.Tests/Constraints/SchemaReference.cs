using System.Text;
using System.Text.Json;
using Bamba.Generation.Constraints;
using Json.Schema;

namespace Bamba.Tests.Constraints;

/// <summary>The grammar compiled from a schema next to JsonSchema.Net, the reference validator.</summary>
internal sealed class SchemaReference
{
    private readonly JsonSchema _reference;

    public SchemaReference(string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        Matcher = new GrammarMatcher(JsonSchemaGrammar.Compile(doc.RootElement.Clone()));
        _reference = JsonSchema.FromText(schema);
    }

    public GrammarMatcher Matcher { get; }

    public bool GrammarAccepts(string json) => Matcher.Accepts(Encoding.UTF8.GetBytes(json));

    public bool ReferenceAccepts(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return _reference.Evaluate(doc.RootElement).IsValid;
    }

    /// <summary>
    /// A random sentence of the grammar: a uniformly random allowed byte at each step, ending where it may with
    /// probability <paramref name="endChance"/>; null if it ran past <paramref name="maxBytes"/>.
    /// </summary>
    public string? RandomSentence(Random random, double endChance = 0.2, int maxBytes = 4000)
    {
        var state = Matcher.Start;
        var bytes = new List<byte>();
        var allowed = new List<byte>();
        while (bytes.Count < maxBytes)
        {
            if (state.CanFinish && (state.IsDone || random.NextDouble() < endChance)) return Encoding.UTF8.GetString([.. bytes]);
            allowed.Clear();
            for (int b = 0; b < 256; b++)
                if (!Matcher.Advance(state, (byte)b).IsDead) allowed.Add((byte)b);
            Assert.NotEmpty(allowed); // a live state that is not complete always has a next byte
            byte next = allowed[random.Next(allowed.Count)];
            bytes.Add(next);
            state = Matcher.Advance(state, next);
        }
        return null;
    }
}

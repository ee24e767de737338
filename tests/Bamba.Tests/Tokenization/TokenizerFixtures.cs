using System.Text.Json;
using Bamba.Tokenization;

namespace Bamba.Tests.Tokenization;

/// <summary>The tokenizer fixtures under ../shared/fixtures/tokenizers and a once-per-run Llama-3 tokenizer.</summary>
public static class TokenizerFixtures
{
    public static string Root => Path.Combine(Fixtures.Root, "tokenizers");
    public static string Llama3Directory => Path.Combine(Root, "llama3");
    public static string Llama3Cases => Path.Combine(Root, "llama3.jsonl");

    private static readonly Lazy<HfTokenizer> LazyLlama3 = new(() => HfTokenizer.Load(Llama3Directory));
    public static HfTokenizer Llama3 => LazyLlama3.Value;

    public sealed record Case(int Index, string Text, int[] Ids, int[] IdsWithSpecial, string Decoded, string DecodedSkipSpecial);

    public static IReadOnlyList<Case> LoadLlama3Cases()
    {
        var cases = new List<Case>();
        foreach (var line in File.ReadLines(Llama3Cases))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            cases.Add(new Case(cases.Count, r.GetProperty("text").GetString()!,
                Ints(r.GetProperty("ids")), Ints(r.GetProperty("ids_with_special")),
                r.GetProperty("decoded").GetString()!, r.GetProperty("decoded_skip_special").GetString()!));
        }
        return cases;
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
}

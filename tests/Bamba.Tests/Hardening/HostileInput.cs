using System.Text;
using System.Text.Json.Nodes;

namespace Bamba.Tests.Hardening;

/// <summary>
/// A seeded generator of hostile values and of structural mutations of JSON documents (config.json, tokenizer.json,
/// safetensors headers, request bodies): numbers at the edges of every integer type, wrong types, invalid Unicode.
/// </summary>
internal sealed class HostileInput(int seed)
{
    /// <summary>Stands for a lone surrogate in generated JSON, written out as the escape <c>\ud800</c>.</summary>
    public const string LoneSurrogate = "@@LONE-SURROGATE@@";
    /// <summary>Stands for a byte that is never UTF-8, written out raw.</summary>
    public const string InvalidByte = "@@INVALID-BYTE@@";

    public Random Random { get; } = new(seed);

    /// <summary>CI's seed; <c>BAMBA_FUZZ_SEED</c> and <c>BAMBA_FUZZ_SCALE</c> (a multiple of the case counts) run a larger campaign.</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("BAMBA_FUZZ_SEED"), out int s) ? s : 20261202;
    public static int Scale => int.TryParse(Environment.GetEnvironmentVariable("BAMBA_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    public static readonly string[] Numbers =
    [
        "0", "-1", "1", "2", "65535", "65536", "2147483647", "2147483648", "-2147483648", "4294967296", "4611686018427387904",
        "9223372036854775807", "18446744073709551616", "1e308", "1e309", "-1e309", "1e-45", "1e-38", "-0", "0.5", "3.5", "1e5",
    ];

    public static readonly string[] Strings =
    [
        "", " ", "abc", "bamba", "float32", "bfloat16", "int4", "\u0000", "../../etc/passwd", "/dev/null", ".", "NaN",
        LoneSurrogate, "x" + InvalidByte + "y", new string('a', 5000), "(a+)+$", "[", "\\p{", "é漢😀",
    ];

    public T Pick<T>(IReadOnlyList<T> items) => items[Random.Next(items.Count)];

    /// <summary>A JSON value of a random kind: edge numbers, odd strings, containers, literals.</summary>
    public JsonNode? Value(int depth = 0) => Random.Next(depth > 1 ? 6 : 8) switch
    {
        0 or 1 => JsonNode.Parse(Pick(Numbers)),
        2 or 3 => JsonValue.Create(Pick(Strings)),
        4 => JsonValue.Create(Random.Next(2) == 0),
        5 => null,
        6 => new JsonArray([.. Enumerable.Range(0, Random.Next(4)).Select(_ => Value(depth + 1))]),
        _ => new JsonObject(Enumerable.Range(0, Random.Next(3)).Select(i => KeyValuePair.Create("k" + i, Value(depth + 1)))),
    };

    /// <summary>Replaces, removes or retypes 1–3 random nodes of <paramref name="root"/> (in place) and returns it.</summary>
    public JsonNode Mutate(JsonNode root)
    {
        for (int m = Random.Next(1, 4); m > 0; m--)
        {
            var nodes = new List<JsonNode>();
            Collect(root, nodes);
            var target = Pick(nodes);
            if (target.Parent is JsonObject parent)
            {
                string key = parent.First(p => ReferenceEquals(p.Value, target)).Key;
                if (Random.Next(4) == 0) parent.Remove(key);
                else parent[key] = Value();
            }
            else if (target.Parent is JsonArray array)
                array[array.IndexOf(target)] = Value();
        }
        return root;
    }

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        if (node.Parent is not null) into.Add(node);
        if (into.Count > 20000) return;
        switch (node)
        {
            case JsonObject o: foreach (var (_, v) in o) if (v is not null) Collect(v, into); break;
            case JsonArray a: foreach (var v in a) if (v is not null) Collect(v, into); break;
        }
    }

    /// <summary>The document's bytes with the placeholders made real (JSON writers refuse to write invalid text).</summary>
    public static byte[] Bytes(JsonNode? node) => Bytes(node?.ToJsonString() ?? "null");

    public static byte[] Bytes(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json.Replace(LoneSurrogate, "\\ud800"));
        var marker = Encoding.UTF8.GetBytes(InvalidByte);
        var output = new List<byte>(bytes.Length);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes.AsSpan(i).StartsWith(marker)) { output.Add(0xFF); i += marker.Length - 1; }
            else output.Add(bytes[i]);
        }
        return [.. output];
    }

    /// <summary>Some bytes of <paramref name="bytes"/> changed at random, or the file cut short.</summary>
    public byte[] Corrupt(byte[] bytes, int within)
    {
        var copy = bytes.ToArray();
        if (Random.Next(3) == 0) return copy[..Random.Next(Math.Min(within, copy.Length))];
        for (int i = Random.Next(1, 6); i > 0; i--) copy[Random.Next(Math.Min(within, copy.Length))] = (byte)Random.Next(256);
        return copy;
    }
}

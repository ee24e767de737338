using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Cli;

/// <summary>Reading and writing the CLI's JSON-lines files, with errors that name the file and line.</summary>
internal static class JsonLines
{
    public static readonly JsonSerializerOptions Output = new()
    {
        // Real UTF-8 rather than \u escapes for non-ASCII text; still valid JSON.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // A model with NaN or Inf weights scores NaN: written as "NaN" (as Python's json writes NaN), not a crash.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Generated code only (CliJson): what a trimmed publish, with reflection-based JSON off, can run.
        TypeInfoResolver = CliJson.Default,
    };

    /// <summary>The JSON objects of a file's lines (blank lines skipped); the path <c>-</c> reads stdin.</summary>
    public static IEnumerable<(int Line, JsonObject Value)> Read(string path)
    {
        if (path != "-" && !File.Exists(path)) throw new BambaException($"{path}: file not found");
        int line = 0;
        foreach (var text in path == "-" ? StdinLines() : File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonNode? node;
            Bamba.Text.JsonUnicode.Require(text, $"{path}:{line}");
            try { node = JsonNode.Parse(text); }
            catch (JsonException e) { throw new BambaException($"{path}:{line}: not valid JSON ({e.Message})"); }
            if (node is not JsonObject obj) throw new BambaException($"{path}:{line}: expected a JSON object");
            yield return (line, obj);
        }
    }

    private static IEnumerable<string> StdinLines()
    {
        while (Console.In.ReadLine() is { } line) yield return line;
    }

    public static int[] Ids(JsonNode? node, string where)
    {
        if (node is not JsonArray array) throw new BambaException($"{where}: expected a list of token ids");
        return array.Select(n => n is JsonValue v && v.TryGetValue(out int id) && id >= 0
            ? id : throw new BambaException($"{where}: token ids must be non-negative integers")).ToArray();
    }

    /// <summary>One JSON line of <paramref name="value"/>, whose type <see cref="CliJson"/> must list.</summary>
    public static string Write<T>(T value) => JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)Output.GetTypeInfo(typeof(T)));
}

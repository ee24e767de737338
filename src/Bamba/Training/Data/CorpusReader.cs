using System.Text;
using System.Text.Json;

namespace Bamba.Training.Data;

/// <summary>One training document: text to encode, or token ids given directly.</summary>
public sealed record Document(string? Text, int[]? Ids);

/// <summary>
/// Reads a corpus: <c>.jsonl</c> lines are <c>{"text": ...}</c> or <c>{"ids": [...]}</c>; <c>.txt</c> is split
/// into documents on blank lines. Empty documents are dropped.
/// </summary>
public static class CorpusReader
{
    public static List<Document> Read(string path)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: data file not found");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" => ReadJsonLines(path),
            ".txt" => SplitOnBlankLines(File.ReadAllText(path, Encoding.UTF8)).Select(t => new Document(t, null)).ToList(),
            _ => throw new BambaException($"{path}: expected a .txt or .jsonl data file"),
        };
    }

    public static IEnumerable<string> SplitOnBlankLines(string text)
    {
        var current = new StringBuilder();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (raw.Trim().Length == 0)
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            if (current.Length > 0) current.Append('\n');
            current.Append(raw);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    private static List<Document> ReadJsonLines(string path)
    {
        var docs = new List<Document>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            var doc = ParseLine(line, $"{path}:{lineNumber}");
            if (doc.Text is { Length: > 0 } || doc.Ids is { Length: > 0 }) docs.Add(doc);
        }
        return docs;
    }

    private static Document ParseLine(string line, string where)
    {
        try
        {
            Bamba.Text.JsonUnicode.Require(line, where);
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new BambaException($"{where}: expected a JSON object");
            if (root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) return new Document(text.GetString(), null);
            if (root.TryGetProperty("ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
                return new Document(null, ids.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int id) && id >= 0
                    ? id : throw new BambaException($"{where}: \"ids\" must hold non-negative integers")).ToArray());
            throw new BambaException($"{where}: expected {{\"text\": \"...\"}} or {{\"ids\": [...]}}");
        }
        catch (JsonException e) { throw new BambaException($"{where}: not valid JSON ({e.Message})"); }
    }
}

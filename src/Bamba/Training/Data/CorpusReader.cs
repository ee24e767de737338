using System.Text;
using System.Text.Json;
using Bamba.Serving;

namespace Bamba.Training.Data;

/// <summary>
/// One training document: text to encode, token ids given directly, a chat conversation, or a prompt/completion
/// pair; <see cref="Where"/> names its file and line for messages.
/// </summary>
public sealed record Document(string? Text, int[]? Ids, IReadOnlyList<ChatTurn>? Messages = null,
    (string Prompt, string Completion)? Pair = null, string Where = "");

/// <summary>
/// Reads a corpus: <c>.jsonl</c> lines are <c>{"text": ...}</c>, <c>{"ids": [...]}</c>, <c>{"messages": [{"role",
/// "content"}, ...]}</c> or <c>{"prompt": ..., "completion": ...}</c>; <c>.txt</c> is split into documents on blank
/// lines. Empty documents are dropped. A bad line stops the read with its line number, or, when
/// <paramref name="badLines"/> is given, is left out and its message added there.
/// </summary>
public static class CorpusReader
{
    public static List<Document> Read(string path, List<string>? badLines = null)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: data file not found");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" => ReadJsonLines(path, badLines),
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

    private static List<Document> ReadJsonLines(string path, List<string>? badLines)
    {
        var docs = new List<Document>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            Document doc;
            try { doc = ParseLine(line, $"{path}:{lineNumber}"); }
            catch (BambaException e) when (badLines is not null) { badLines.Add(e.Message); continue; }
            if (doc.Text is { Length: > 0 } || doc.Ids is { Length: > 0 } || doc.Messages is not null || doc.Pair is not null) docs.Add(doc);
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
            if (root.TryGetProperty("messages", out var messages)) return new Document(null, null, Messages(messages, where), Where: where);
            if (root.TryGetProperty("prompt", out var prompt) && root.TryGetProperty("completion", out var completion))
                return new Document(null, null, Pair: (Text(prompt, "prompt", where), Text(completion, "completion", where)), Where: where);
            throw new BambaException($"{where}: expected {{\"text\": \"...\"}}, {{\"ids\": [...]}}, {{\"messages\": [...]}} or {{\"prompt\": \"...\", \"completion\": \"...\"}}");
        }
        catch (JsonException e) { throw new BambaException($"{where}: not valid JSON ({e.Message})"); }
    }

    private static List<ChatTurn> Messages(JsonElement messages, string where)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new BambaException($"{where}: \"messages\" must be an array");
        var turns = new List<ChatTurn>();
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw new BambaException($"{where}: message {turns.Count} needs a string \"role\"");
            string content = m.TryGetProperty("content", out var c) ? Text(c, $"messages[{turns.Count}].content", where) : "";
            turns.Add(new ChatTurn(role.GetString()!, content));
        }
        return turns;
    }

    private static string Text(JsonElement value, string field, string where) => value.ValueKind == JsonValueKind.String
        ? value.GetString()! : throw new BambaException($"{where}: \"{field}\" must be a string");
}

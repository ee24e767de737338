using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Bamba.Text;

/// <summary>
/// Finds JSON strings that cannot become .NET text: raw bytes that are not UTF-8, or escapes that leave a lone
/// surrogate (<c>"\ud800"</c>). System.Text.Json accepts both while parsing and throws only when the string is read,
/// deep inside whatever reads it; checking a document once up front lets every reader answer with the field's path.
/// </summary>
public static class JsonUnicode
{
    /// <summary>The path (<c>messages[0].content</c>) of the first string or property name that is not valid Unicode;
    /// null when all are (or when the JSON is malformed, which the parser itself reports).</summary>
    public static string? FirstInvalidString(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        if (!IsValid(ref reader)) return PathOf(frames, "(a field name)");
                        frames[^1] = frames[^1] with { Name = reader.GetString() };
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Advance(frames);
                        frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, null, -1));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    case JsonTokenType.String:
                        Advance(frames);
                        if (!IsValid(ref reader)) return PathOf(frames, null);
                        break;
                    default:
                        Advance(frames);
                        break;
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    /// <summary><see cref="FirstInvalidString(ReadOnlySpan{byte})"/> of text already decoded (a JSON-lines record).</summary>
    public static string? FirstInvalidString(string json) => FirstInvalidString(Encoding.UTF8.GetBytes(json));

    /// <summary>Throws a <see cref="BambaException"/> naming <paramref name="where"/> (a file, file:line) and the field
    /// when a string of a user's JSON file is not valid Unicode; call before reading its strings.</summary>
    public static void Require(ReadOnlySpan<byte> json, string where)
    {
        if (FirstInvalidString(json) is { } field) throw Invalid(where, field);
    }

    /// <inheritdoc cref="Require(ReadOnlySpan{byte}, string)"/>
    public static void Require(string json, string where)
    {
        if (FirstInvalidString(json) is { } field) throw Invalid(where, field);
    }

    private static BambaException Invalid(string where, string field) =>
        new($"{where}: the text at {field} is not valid Unicode (an invalid UTF-8 byte or a lone surrogate escape such as \\ud800)");

    private sealed record Frame(bool IsArray, string? Name, int Index);

    private static void Advance(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray) frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
    }

    private static bool IsValid(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return Utf8.IsValid(reader.ValueSpan);
        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>messages[0].content; for a bad property name, the object holding it and <paramref name="last"/>.</summary>
    private static string PathOf(List<Frame> frames, string? last)
    {
        var path = new StringBuilder();
        for (int i = 0; i < frames.Count; i++)
        {
            var f = frames[i];
            if (f.IsArray) path.Append('[').Append(f.Index).Append(']');
            else if (f.Name is not null && (last is null || i < frames.Count - 1)) path.Append(path.Length > 0 ? "." : "").Append(f.Name);
        }
        if (last is not null) path.Append(path.Length > 0 ? " " : "").Append(last);
        return path.Length == 0 ? "(the document)" : path.ToString();
    }
}

using System.Text.Json;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>Real model chat templates and the cases in Data/cases.json (expected strings from Python jinja2 set up as transformers does; see Data/make_expected.py).</summary>
public static class TemplateData
{
    public static string Directory => Path.Combine(Fixtures.RepositoryRoot, "tests", "Bamba.Tests", "ChatTemplates", "Data");

    /// <summary>The date make_expected.py pins strftime_now to.</summary>
    public static readonly DateTime FixedNow = new(2025, 3, 7, 14, 5, 9);

    public static ChatTemplate Load(string name) =>
        ChatTemplate.Parse(File.ReadAllText(Path.Combine(Directory, name + ".jinja"))).WithClock(() => FixedNow);

    public static TheoryData<int> CaseIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Cases().Count; i++) data.Add(i);
        return data;
    }

    public static List<JsonElement> Cases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "cases.json")));
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    /// <summary>A JSON message object as a ChatMessage: role and content, every other property as an extra field.</summary>
    public static ChatMessage Message(JsonElement json)
    {
        var extra = new Dictionary<string, object?>();
        foreach (var property in json.EnumerateObject())
            if (property.Name is not ("role" or "content")) extra[property.Name] = property.Value;
        var content = json.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        return new ChatMessage(json.GetProperty("role").GetString()!, content, extra.Count > 0 ? extra : null);
    }

    public static Dictionary<string, object?> Variables(JsonElement json) =>
        json.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
}

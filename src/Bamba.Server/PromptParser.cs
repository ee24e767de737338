using System.Text.Json;
using Bamba.Serving;

namespace Bamba.Server;

/// <summary>A completions prompt: its ids and its text (the text is empty for ids given to a model without a tokenizer).</summary>
internal sealed record PromptInput(int[] Ids, string Text);

/// <summary>Reads OpenAI's four prompt forms: a string, a list of strings, a list of ids, a list of id lists.</summary>
internal static class PromptParser
{
    public static PromptInput[] Parse(JsonElement? prompt, ServingEngine engine)
    {
        if (prompt is not { } p || p.ValueKind == JsonValueKind.Null) throw ApiException.BadValue("prompt", "prompt is required");
        var prompts = p.ValueKind switch
        {
            JsonValueKind.String => [FromText(p.GetString()!, engine)],
            JsonValueKind.Array when p.GetArrayLength() == 0 => throw ApiException.BadValue("prompt", "prompt is empty"),
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) => [FromIds(p, engine)],
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                p.EnumerateArray().Select(e => FromText(e.GetString()!, engine)).ToArray(),
            JsonValueKind.Array when p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Array) =>
                p.EnumerateArray().Select(e => FromIds(e, engine)).ToArray(),
            _ => throw ApiException.BadValue("prompt", "prompt must be a string, a list of strings, a list of token ids or a list of token-id lists"),
        };
        if (prompts.Any(x => x.Ids.Length == 0)) throw ApiException.BadValue("prompt", "a prompt is empty (no tokens)");
        return prompts;
    }

    private static PromptInput FromText(string text, ServingEngine engine)
    {
        RequestMapping.CheckTextLength(text.Length, engine, "prompt");
        return new(RequestMapping.Text(engine, "prompt").Encode(text, addSpecialTokens: true), text);
    }

    private static PromptInput FromIds(JsonElement list, ServingEngine engine)
    {
        int vocab = engine.Model.Tokens.VocabSize;
        var ids = new int[list.GetArrayLength()];
        int i = 0;
        foreach (var e in list.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id) || (uint)id >= (uint)vocab)
                throw ApiException.BadValue("prompt", $"prompt token {e.GetRawText()} is not a token id of this model (0..{vocab - 1})");
            ids[i++] = id;
        }
        return new PromptInput(ids, engine.Text?.Decode(ids) ?? "");
    }
}

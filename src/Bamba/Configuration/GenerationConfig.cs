using System.Text.Json;
using Bamba.Generation;

namespace Bamba.Configuration;

/// <summary>
/// A model's <c>generation_config.json</c> defaults as transformers reads them: greedy unless <c>do_sample</c>, then
/// temperature / top_k (50 by default) / top_p / min_p; repetition penalty; max_new_tokens; eos ids.
/// </summary>
public sealed record GenerationConfig(SamplingOptions Sampling, int? MaxNewTokens, IReadOnlyList<int>? EosTokenIds)
{
    public static GenerationConfig Default { get; } = new(SamplingOptions.Greedy, null, null);

    public static GenerationConfig Load(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, "generation_config.json");
        if (!File.Exists(path)) return Default;
        try
        {
            string text = File.ReadAllText(path);
            Bamba.Text.JsonUnicode.Require(text, path);
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            bool sample = root.TryGetProperty("do_sample", out var ds) && ds.ValueKind == JsonValueKind.True;
            var sampling = new SamplingOptions
            {
                Temperature = sample ? Float(root, "temperature", 1f) : 0f,
                TopK = sample ? (int)Float(root, "top_k", 50f) : 0,
                TopP = sample ? Float(root, "top_p", 1f) : 1f,
                MinP = sample ? Float(root, "min_p", 0f) : 0f,
                RepetitionPenalty = Float(root, "repetition_penalty", 1f),
            };
            int? maxNew = root.TryGetProperty("max_new_tokens", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null;
            return new GenerationConfig(sampling, maxNew, EosIds(root));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new BambaException($"{path}: not a valid generation config ({e.Message})");
        }
    }

    private static float Float(JsonElement root, string name, float fallback) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : fallback;

    private static IReadOnlyList<int>? EosIds(JsonElement root)
    {
        if (!root.TryGetProperty("eos_token_id", out var e)) return null;
        return e.ValueKind switch
        {
            JsonValueKind.Number => [e.GetInt32()],
            JsonValueKind.Array => e.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            _ => null,
        };
    }
}

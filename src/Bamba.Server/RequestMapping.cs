using System.Text.Json;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Serving;
using Bamba.Server.Protocol;

namespace Bamba.Server;

/// <summary>Checks the fields both endpoints share and turns them into scheduler requests; every bad value is a 400 naming it.</summary>
internal static class RequestMapping
{
    public const int MaxN = 16;
    public const int MaxStops = 4;

    public static int Adapter(SamplingFields r, ServingEngine engine) => Adapter(r.Model, engine);

    /// <summary>
    /// The LoRA adapter the request's <c>model</c> picks (0 = the served model itself); an unknown name is a 404, as
    /// OpenAI and vLLM answer it.
    /// </summary>
    public static int Adapter(string? model, ServingEngine engine) => engine.AdapterFor(model)
        ?? throw new ApiException(404, $"the model '{model}' does not exist; this server serves {string.Join(", ", engine.ModelIds.Select(m => $"'{m}'"))}",
            "model", "model_not_found");

    public static int N(SamplingFields r)
    {
        int n = r.N ?? 1;
        if (n is < 1 or > MaxN) throw ApiException.BadValue("n", $"n must be in [1, {MaxN}], got {n}");
        return n;
    }

    /// <summary>The model's generation_config defaults, overridden by the request's fields.</summary>
    public static SamplingOptions Sampling(SamplingFields r, ServingEngine engine)
    {
        var d = engine.Defaults.Sampling;
        Range("temperature", r.Temperature, 0, 2);
        Range("top_p", r.TopP, 0, 1, lowOpen: true);
        Range("min_p", r.MinP, 0, 1);
        Range("presence_penalty", r.PresencePenalty, -2, 2);
        Range("frequency_penalty", r.FrequencyPenalty, -2, 2);
        Range("repetition_penalty", r.RepetitionPenalty, 0, 100, lowOpen: true);
        if (r.TopK is < -1) throw ApiException.BadValue("top_k", $"top_k must be -1 (off), 0 (off) or positive, got {r.TopK}");
        var sampling = new SamplingOptions
        {
            // A truncation parameter on a greedy default turns sampling on at temperature 1, as do_sample would.
            Temperature = r.Temperature ?? (d.IsGreedy && (r.TopP is not null || r.TopK > 0 || r.MinP is not null) ? 1f : d.Temperature),
            TopP = r.TopP ?? d.TopP,
            TopK = r.TopK is int k ? Math.Max(k, 0) : d.TopK,
            MinP = r.MinP ?? d.MinP,
            RepetitionPenalty = r.RepetitionPenalty ?? d.RepetitionPenalty,
            PresencePenalty = r.PresencePenalty ?? 0,
            FrequencyPenalty = r.FrequencyPenalty ?? 0,
            Seed = r.Seed is long s ? unchecked((ulong)s) : null,
            LogitBias = LogitBias(r, engine),
        };
        return sampling;
    }

    private static Dictionary<int, float>? LogitBias(SamplingFields r, ServingEngine engine)
    {
        if (r.LogitBias is not { Count: > 0 } map) return null;
        var bias = new Dictionary<int, float>();
        foreach (var (key, value) in map)
        {
            if (!int.TryParse(key, out int id) || (uint)id >= (uint)engine.Model.Tokens.VocabSize)
                throw ApiException.BadValue("logit_bias", $"logit_bias keys must be token ids in 0..{engine.Model.Tokens.VocabSize - 1}, got '{key}'");
            if (!(Math.Abs(value) <= 100)) throw ApiException.BadValue("logit_bias", $"logit_bias values must be in [-100, 100], got {value} for {key}");
            bias[id] = value;
        }
        return bias;
    }

    /// <summary>Choice i of a request with a seed samples with seed + i, so the n choices differ yet repeat.</summary>
    public static SamplingOptions ForChoice(SamplingOptions sampling, int choice) =>
        sampling.Seed is ulong seed ? sampling with { Seed = unchecked(seed + (ulong)choice) } : sampling;

    /// <summary>Null = the model's EOS ids; empty when the request says ignore_eos.</summary>
    public static IReadOnlyList<int>? EosIds(SamplingFields r) => r.IgnoreEos == true ? [] : null;

    public static string[] Stops(SamplingFields r)
    {
        if (r.Stop is not { } stop || stop.ValueKind == JsonValueKind.Null) return [];
        string[] stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                stop.EnumerateArray().Select(e => e.GetString()!).ToArray(),
            _ => throw ApiException.BadValue("stop", "stop must be a string or a list of strings"),
        };
        if (stops.Length > MaxStops) throw ApiException.BadValue("stop", $"at most {MaxStops} stop strings, got {stops.Length}");
        if (stops.Any(s => s.Length == 0)) throw ApiException.BadValue("stop", "stop strings must not be empty");
        return stops;
    }

    public static int[] StopTokenIds(SamplingFields r, ServingEngine engine)
    {
        var ids = r.StopTokenIds ?? [];
        foreach (int id in ids)
            if ((uint)id >= (uint)engine.Model.Tokens.VocabSize)
                throw ApiException.BadValue("stop_token_ids", $"token id {id} is outside the vocabulary (0..{engine.Model.Tokens.VocabSize - 1})");
        return ids;
    }

    public static int TopLogprobs(string param, int? value)
    {
        int v = value ?? 0;
        if (v is < 0 or > SequenceRequest.MaxTopLogprobs)
            throw ApiException.BadValue(param, $"{param} must be in [0, {SequenceRequest.MaxTopLogprobs}], got {v}");
        return v;
    }

    /// <summary>max_tokens, or what is left of the context when absent; prompt + max_tokens over the context is a 400.</summary>
    public static int MaxTokens(string param, int? requested, int fallback, int promptTokens, ServingEngine engine, bool allowZero)
    {
        int maxTokens = requested ?? Math.Min(fallback, engine.MaxContext - promptTokens);
        if (maxTokens < (allowZero ? 0 : 1))
            throw requested is null
                ? ContextExceeded(promptTokens, 1, engine)
                : ApiException.BadValue(param, $"{param} must be ≥ {(allowZero ? 0 : 1)}, got {maxTokens}");
        // long: max_tokens near 2^31 must not wrap the sum below the context (it once streamed past it).
        if ((long)promptTokens + maxTokens > engine.MaxContext) throw ContextExceeded(promptTokens, maxTokens, engine);
        return maxTokens;
    }

    /// <summary>
    /// Refuses, before tokenizing, text that has more characters than the context's tokens can stand for: a 10 MB prompt
    /// is a 400 at once instead of seconds of tokenizing and gigabytes of memory.
    /// </summary>
    public static void CheckTextLength(long characters, ServingEngine engine, string param)
    {
        if (engine.Text?.MaxCharsPerToken is not int perToken || characters <= (long)engine.MaxContext * perToken) return;
        throw new ApiException(400, $"this model's maximum context is {engine.MaxContext} tokens; the {param} has {characters} characters, " +
                                    $"more than {engine.MaxContext} tokens can hold (at most {perToken} characters each)", param, "context_length_exceeded");
    }

    public static ITextCodec Text(ServingEngine engine, string param) => engine.Text
        ?? throw ApiException.BadValue(param, $"the model '{engine.ModelId}' has no tokenizer: send token ids instead of text");

    private static ApiException ContextExceeded(int prompt, int maxTokens, ServingEngine engine) =>
        new(400, $"this model's maximum context is {engine.MaxContext} tokens; the request asks for {(long)prompt + maxTokens} " +
                 $"({prompt} in the prompt, {maxTokens} to generate)", "max_tokens", "context_length_exceeded");

    private static void Range(string param, float? value, float low, float high, bool lowOpen = false)
    {
        if (value is not float v) return;
        bool ok = (lowOpen ? v > low : v >= low) && v <= high;
        if (!ok) throw ApiException.BadValue(param, $"{param} must be in {(lowOpen ? "(" : "[")}{low}, {high}], got {v}");
    }
}

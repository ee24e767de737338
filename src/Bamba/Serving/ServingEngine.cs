using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;

namespace Bamba.Serving;

/// <summary>
/// A model ready to serve: the model, its continuous-batching scheduler, its tokenizer and chat template (if it has
/// them) and its generation defaults. The HTTP server and the in-process <c>IChatClient</c> both stand on it.
/// </summary>
public sealed class ServingEngine : IDisposable
{
    private readonly bool _ownsModel;

    public ServingEngine(ISequenceModel model, ITextCodec? text, SchedulerOptions options, string modelId,
        GenerationConfig? defaults = null, bool ownsModel = true)
    {
        Model = model;
        Text = text;
        ModelId = modelId;
        Defaults = defaults ?? GenerationConfig.Default;
        _ownsModel = ownsModel;
        CheckAdapterNames(model.Adapters, modelId);
        Scheduler = new ContinuousBatchScheduler(model, options);
        Grammars = new GrammarCache(text, model.Tokens.VocabSize);
    }

    /// <summary>Loads a model directory for serving on the CPU; the model id defaults to the directory's name.</summary>
    public static ServingEngine Load(string directory, SchedulerOptions options, string? modelId = null) =>
        ForModel(BambaModel.Load(directory), directory, options, modelId);

    /// <summary>
    /// Serves <paramref name="model"/> (taking ownership) with the tokenizer and defaults of its directory;
    /// <paramref name="chatTemplate"/> (Jinja source) replaces the tokenizer's chat template.
    /// </summary>
    public static ServingEngine ForModel(ISequenceModel model, string directory, SchedulerOptions options, string? modelId = null, string? chatTemplate = null)
    {
        try
        {
            var id = modelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
            return new ServingEngine(model, TextCodecs.Load(directory, chatTemplate), options, id, GenerationConfig.Load(directory));
        }
        catch { model.Dispose(); throw; }
    }

    public ISequenceModel Model { get; }
    public ITextCodec? Text { get; }
    public string ModelId { get; }
    public GenerationConfig Defaults { get; }
    public ContinuousBatchScheduler Scheduler { get; }
    /// <summary>Compiled grammars for constrained decoding (response formats, tool calls).</summary>
    public GrammarCache Grammars { get; }
    public int MaxContext => Scheduler.Options.MaxContext;

    /// <summary>
    /// The ids a request may name in <c>model</c>: the served model's, then <c>MODEL:NAME</c> for each LoRA adapter the
    /// model serves (vLLM's multi-LoRA names an adapter by NAME alone, which is accepted too).
    /// </summary>
    public IReadOnlyList<string> ModelIds => [ModelId, .. Model.Adapters.Select(a => $"{ModelId}:{a}")];

    /// <summary>The id of adapter <paramref name="adapter"/> (0 = none, the served model's own id).</summary>
    public string IdOf(int adapter) => ModelIds[adapter];

    /// <summary>
    /// The adapter a request's <c>model</c> picks (0 for the served model itself, or when the field is absent); null when
    /// it names neither the model nor one of its adapters.
    /// </summary>
    public int? AdapterFor(string? model)
    {
        if (model is null || model == ModelId) return 0;
        string name = model.StartsWith(ModelId + ":", StringComparison.Ordinal) ? model[(ModelId.Length + 1)..] : model;
        for (int i = 0; i < Model.Adapters.Count; i++)
            if (Model.Adapters[i] == name) return i + 1;
        return null;
    }

    /// <summary>Adapter names must be unique and differ from the model's id, so that every <c>model</c> value picks one thing.</summary>
    private static void CheckAdapterNames(IReadOnlyList<string> adapters, string modelId)
    {
        foreach (var name in adapters)
        {
            if (name == modelId) throw new BambaException($"the LoRA adapter name '{name}' is the served model's own name: pick another");
            if (adapters.Count(a => a == name) > 1) throw new BambaException($"two LoRA adapters are named '{name}'");
        }
    }

    /// <summary>End-of-sequence ids: generation_config.json's (else config.json's) and the tokenizer's EOS token
    /// (a chat model's end-of-turn token is often only there).</summary>
    public IReadOnlyList<int> EosTokenIds =>
        [.. (Defaults.EosTokenIds ?? Model.Tokens.EosTokenIds).Union(Text is HfTextCodec hf ? hf.Tokenizer.EosIds : [])];

    /// <summary>The chat template applied to <paramref name="turns"/> with the assistant's turn opened, as token ids.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatTurn> turns, IReadOnlyList<Tools.ToolDefinition>? tools = null)
    {
        var text = Text ?? throw new BambaException($"the model '{ModelId}' has no tokenizer, so it cannot chat");
        if (!text.HasChatTemplate) throw new BambaException($"the model '{ModelId}' has no chat template");
        return text.Encode(text.RenderChat(turns, addGenerationPrompt: true, tools), addSpecialTokens: !text.ChatIncludesSpecialTokens);
    }

    /// <summary>Starts one choice. Stop strings need a tokenizer.</summary>
    public ChoiceRun Start(SequenceRequest request, IReadOnlyList<string> stops, CancellationToken cancel)
    {
        if (stops.Count > 0 && Text is null) throw new BambaException("stop strings need a tokenizer; this model has none (use token ids)");
        var handle = Scheduler.Submit(request with { EosTokenIds = request.EosTokenIds ?? EosTokenIds }, cancel);
        return new ChoiceRun(handle, Text is null ? null : new TextStream(Text, stops));
    }

    public void Dispose()
    {
        Scheduler.Dispose();
        if (_ownsModel) Model.Dispose();
    }
}

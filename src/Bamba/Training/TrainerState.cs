using System.Text.Json;
using System.Text.Json.Serialization;
using Bamba.Training.Data;

namespace Bamba.Training;

/// <summary>
/// What <c>--resume</c> needs besides the weights and the optimizer moments (trainer_state.json): the step, the
/// settings that shape the remaining steps, the data cursor and the seed that fixes every epoch's order.
/// </summary>
public sealed record TrainerState
{
    public int Step { get; init; }
    public int TotalSteps { get; init; }
    public ulong Seed { get; init; }
    public string DataFile { get; init; } = "";
    public DataCursor Cursor { get; init; }
    public int BatchTokens { get; init; }
    public int GradientAccumulation { get; init; } = 1;
    public float LearningRate { get; init; }
    public int WarmupSteps { get; init; }
    public float MinLearningRateRatio { get; init; } = 0.1f;
    public float WeightDecay { get; init; }
    public float MaxGradNorm { get; init; }
    public double EvalFraction { get; init; }
    /// <summary>Which tokens of chat and prompt/completion lines carry the loss.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<TrainOn>))]
    public TrainOn TrainOn { get; init; } = TrainOn.Assistant;
    public bool SkipBadLines { get; init; }
    public double? LastLoss { get; init; }
    public double? EvalLoss { get; init; }
    public long TokensSeen { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, TrainerStateJson.Default.TrainerState);

    public static TrainerState Read(string path)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: not found (--resume needs a checkpoint written by 'bamba train')");
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), TrainerStateJson.Default.TrainerState) ?? throw new BambaException($"{path}: empty"); }
        catch (JsonException e) { throw new BambaException($"{path}: not valid trainer state ({e.Message})"); }
    }
}

/// <summary>Source-generated (trim-safe) JSON for <see cref="TrainerState"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TrainerState))]
internal sealed partial class TrainerStateJson : JsonSerializerContext;

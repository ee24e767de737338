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
    /// <summary>The router auxiliary loss's coefficient (0 = off): <c>--router-aux-loss-coef</c>, or the config's as transformers applies it.</summary>
    public double RouterAuxLossCoef { get; init; }
    public double EvalFraction { get; init; }
    /// <summary>Checkpoint every this many steps (0 = only at the end); kept so that --resume goes on saving as often.</summary>
    public int SaveEvery { get; init; }
    /// <summary>Held-out tokens evaluated at the end; kept for --resume like <see cref="SaveEvery"/>.</summary>
    public int EvalTokens { get; init; } = 65536;
    /// <summary>Which tokens of chat and prompt/completion lines carry the loss.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<TrainOn>))]
    public TrainOn TrainOn { get; init; } = TrainOn.Assistant;
    public bool SkipBadLines { get; init; }
    public double? LastLoss { get; init; }
    public double? EvalLoss { get; init; }
    public long TokensSeen { get; init; }
    /// <summary>Every step's figures and every evaluation so far (Hugging Face Trainer's <c>log_history</c>).</summary>
    public IReadOnlyList<LogEntry> LogHistory { get; init; } = [];

    /// <summary>The longest packed row and the most rows per step: beyond them a step would run for days or exhaust memory.</summary>
    public const int MaxBatchTokens = 1 << 20, MaxGradientAccumulation = 1 << 16;

    /// <summary>Throws a <see cref="BambaException"/> naming the first setting no run can use.</summary>
    public void Validate()
    {
        if (BatchTokens is < 2 or > MaxBatchTokens) throw new BambaException($"--batch-tokens must be in [2, {MaxBatchTokens}], got {BatchTokens}");
        if (GradientAccumulation is < 1 or > MaxGradientAccumulation)
            throw new BambaException($"--grad-accum must be in [1, {MaxGradientAccumulation}], got {GradientAccumulation}");
    }

    public string ToJson() => JsonSerializer.Serialize(this, TrainerStateJson.Default.TrainerState);

    public static TrainerState Read(string path)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: not found (--resume needs a checkpoint written by 'bamba train')");
        string text = File.ReadAllText(path);
        Bamba.Text.JsonUnicode.Require(text, path);
        try { return JsonSerializer.Deserialize(text, TrainerStateJson.Default.TrainerState) ?? throw new BambaException($"{path}: empty"); }
        catch (JsonException e) { throw new BambaException($"{path}: not valid trainer state ({e.Message})"); }
    }
}

/// <summary>Source-generated (trim-safe) JSON for <see cref="TrainerState"/>; a diverged run's NaN loss is saved as "NaN",
/// not lost with the checkpoint.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrainerState))]
internal sealed partial class TrainerStateJson : JsonSerializerContext;

using System.Text.Json.Serialization;

namespace Bamba.Training;

/// <summary>
/// One entry of the run's log history (trainer_state.json's <c>log_history</c>, as Hugging Face's Trainer keeps it,
/// and one line of metrics.jsonl): a training step's figures, or a held-out evaluation (<see cref="EvalLoss"/>).
/// </summary>
public sealed record LogEntry
{
    public int Step { get; init; }
    /// <summary>The language-model loss (cross-entropy, plus Bamba's z-loss when its coefficient is set).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Loss { get; init; }
    /// <summary>The router auxiliary loss before its coefficient (mean over the step's rows); only when it is on.
    /// The objective trained is <see cref="Loss"/> + router_aux_loss_coef × this.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? AuxLoss { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? EvalLoss { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? LearningRate { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? GradNorm { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? TokensPerSecond { get; init; }
}

/// <summary>What the training loop reports as it goes: each step, each evaluation and other messages.</summary>
public interface ITrainingProgress
{
    /// <summary>Step <paramref name="entry"/>.Step of <paramref name="totalSteps"/> is done.</summary>
    void Step(LogEntry entry, int totalSteps);

    void Message(string text);
}

using Bamba.Architectures;

namespace Bamba.Training.Lora;

/// <summary>
/// A LoRA run's shape: rank r, alpha (the update is scaled by alpha/r, as PEFT does without rsLoRA), dropout on the
/// adapters' input, and which linear layers get adapters, by the family-independent names of <see cref="TargetRoles"/>.
/// </summary>
public sealed record LoraSettings(int Rank, float Alpha, float Dropout, IReadOnlyList<string> Targets)
{
    public float Scale => Alpha / Rank;

    /// <summary>
    /// Target names and the tensor roles they cover in every family: <c>gate_up</c> is Bamba's gate_proj and up_proj,
    /// Granite's fused shared_mlp.input_linear, Nemotron-H's up_proj; <c>down</c> is down_proj or shared_mlp.output_linear.
    /// Routed experts are not targeted (PEFT's LoRA takes nn.Linear modules, and Granite's experts are not).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, TensorRole[]> TargetRoles = new Dictionary<string, TensorRole[]>(StringComparer.Ordinal)
    {
        ["in_proj"] = [TensorRole.MambaInProj],
        ["out_proj"] = [TensorRole.MambaOutProj],
        ["q_proj"] = [TensorRole.AttentionQ],
        ["k_proj"] = [TensorRole.AttentionK],
        ["v_proj"] = [TensorRole.AttentionV],
        ["o_proj"] = [TensorRole.AttentionO],
        ["gate_up"] = [TensorRole.MlpGate, TensorRole.MlpUp, TensorRole.MlpGateUp],
        ["down"] = [TensorRole.MlpDown],
    };

    public static IReadOnlyList<string> AllTargets => [.. TargetRoles.Keys];

    /// <summary>The settings of the command-line flags, checked (one clear message per mistake).</summary>
    public static LoraSettings Parse(int rank, float? alpha, float dropout, string? targets)
    {
        if (rank < 1) throw new BambaException($"--lora-rank must be at least 1 (got {rank})");
        if (dropout is < 0 or >= 1) throw new BambaException($"--lora-dropout must be in [0, 1) (got {dropout})");
        var names = targets is null ? AllTargets
            : targets.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        foreach (var name in names)
            if (!TargetRoles.ContainsKey(name))
                throw new BambaException($"--lora-targets: unknown target '{name}' (expected some of {string.Join(",", AllTargets)})");
        if (names.Count == 0) throw new BambaException("--lora-targets: name at least one target");
        return new LoraSettings(rank, alpha ?? 2f * rank, dropout, names);
    }
}

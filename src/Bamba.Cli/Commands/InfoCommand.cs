using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Cli.Commands;

/// <summary><c>bamba info --model DIR</c>: parameters, layer plan, storage dtype and memory needed.</summary>
internal sealed class InfoCommand : ICommand
{
    public string Name => "info";
    public string Summary => "describe a model: parameters, layer plan, dtype, memory";
    public IReadOnlyList<Flag> Flags { get; } = [ModelOptions.Model];
    public IReadOnlyList<string> Examples { get; } = ["bamba info --model models/default"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        using var model = ModelOptions.Load(args);
        args.EnsureAllUsed();
        var c = model.Config;
        var report = ModelReport.Create(model);
        stdout.WriteLine($"model:        {args.String("model")}");
        stdout.WriteLine($"architecture: {c.ModelType}");
        stdout.WriteLine($"parameters:   {report.Parameters:N0} ({report.Parameters / 1e9:F3} B)");
        stdout.WriteLine($"weights:      {Bytes(report.WeightBytes)} stored as {string.Join(", ", report.DTypes)}");
        stdout.WriteLine($"layers:       {c.NumHiddenLayers} ({c.NumMambaLayers} mamba, {c.NumAttentionLayers} attention)");
        stdout.WriteLine($"layer plan:   {LayerPlan(c)}");
        stdout.WriteLine($"feed-forward: {FeedForwardPlan(c)}");
        stdout.WriteLine($"hidden:       {c.HiddenSize}, MLP {c.IntermediateSize}, vocab {c.VocabSize}{(c.TieWordEmbeddings ? " (tied head)" : "")}");
        stdout.WriteLine($"mamba:        {c.MambaNHeads} heads × {c.MambaDHead}, {c.MambaNGroups} group(s), state {c.MambaDState}, conv {c.MambaDConv}, chunk {c.MambaChunkSize}");
        if (c.HasMixtureOfExperts)
            stdout.WriteLine($"experts:      {c.NumExperts} × {c.ExpertIntermediateSize}, top-{c.NumExpertsPerToken} ({c.RouterScoring})");
        if (c.NumAttentionLayers > 0)
            stdout.WriteLine($"attention:    {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} KV heads × {c.HeadDim}, {(c.UseRope ? $"RoPE on {c.RotaryDim} dims, theta {c.RopeTheta}" : "no positional encoding")}");
        stdout.WriteLine($"state/seq:    {Bytes(report.StateBytesPerSequence)} (conv windows + float32 SSM states)");
        stdout.WriteLine($"KV/token:     {Bytes(report.KvBytesPerToken)} (float32 on CPU)");
        stdout.WriteLine($"memory (CPU): {Bytes(report.WeightBytes)} mapped weights + state per sequence + KV per token");
        return 0;
    }

    /// <summary>One letter a layer for its mixer, and one for its feed-forward.</summary>
    private static string LayerPlan(BambaConfig c) =>
        string.Concat(c.Layers.Select(l => Letter(l.Mixer))) + "  (M = mamba, A = attention, - = none)";

    private static string FeedForwardPlan(BambaConfig c) =>
        string.Concat(c.Layers.Select(l => Letter(l.FeedForward))) + "  (F = MLP, E = experts, - = none)";

    private static char Letter(MixerKind m) => m switch { MixerKind.Mamba => 'M', MixerKind.Attention => 'A', _ => '-' };
    private static char Letter(FeedForwardKind f) => f switch { FeedForwardKind.Mlp => 'F', FeedForwardKind.MixtureOfExperts => 'E', _ => '-' };

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}

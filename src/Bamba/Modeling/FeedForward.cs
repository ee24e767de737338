using System.Numerics.Tensors;
using Bamba.Backends.Cpu;
using Bamba.Configuration;

namespace Bamba.Modeling;

/// <summary>
/// A layer's feed-forward on the CPU: a dense MLP (SwiGLU or squared ReLU), or routed experts plus the shared MLP.
/// Each expert streams only the rows routed to it, so a token costs its k experts' weights, not all E.
/// </summary>
internal static class FeedForward
{
    public static void Forward(BambaConfig c, LayerWeights w, float[] input, int rows, float[] output, IReadOnlyList<AdapterSpan> adapters)
    {
        if (w.Experts is not { } experts)
        {
            Mlp(w.Mlp!, input, rows, output, adapters);
            return;
        }
        Experts(c, experts, input, rows, output);
        if (w.Mlp is { } shared)
        {
            var sharedOut = new float[output.Length];
            Mlp(shared, input, rows, sharedOut, adapters);
            TensorPrimitives.Add(output, sharedOut, output);
        }
    }

    /// <summary>The MLP over <paramref name="rows"/> rows; <paramref name="adapters"/> says which rows run with which picked LoRA adapter.</summary>
    public static void Mlp(MlpWeights w, ReadOnlySpan<float> input, int rows, Span<float> output, IReadOnlyList<AdapterSpan> adapters)
    {
        int inter = checked((int)w.Up.Shape[0]);
        var up = ScratchArrays.Get("mlp.up", rows * inter);
        if (w.Gate is { } g)
        {
            var gate = ScratchArrays.Get("mlp.gate", rows * inter);
            Linear.Forward(input, rows, g, [], gate);
            w.GateDelta?.Add(input, rows, gate, adapters);
            Linear.Forward(input, rows, w.Up, [], up);
            w.UpDelta?.Add(input, rows, up, adapters);
            Activations.SwiGlu(gate, up);
            Linear.Forward(gate, rows, w.Down, [], output);
            w.DownDelta?.Add(gate, rows, output, adapters);
            return;
        }
        Linear.Forward(input, rows, w.Up, [], up);
        w.UpDelta?.Add(input, rows, up, adapters);
        Activations.SquaredReluInPlace(up);
        Linear.Forward(up, rows, w.Down, [], output);
        w.DownDelta?.Add(up, rows, output, adapters);
    }

    /// <summary>Routes each row, then runs every expert once over the rows it was given and adds them back weighted.</summary>
    private static void Experts(BambaConfig c, ExpertWeights w, float[] input, int rows, float[] output)
    {
        int h = c.HiddenSize;
        var logits = new float[rows * c.NumExperts];
        Linear.Forward(input, rows, w.Router, [], logits);
        var routing = ExpertRouter.Route(c, logits, w.RouterBias, rows);
        Array.Clear(output);
        foreach (var (expert, picks) in ByExpert(routing, c.NumExperts))
        {
            var gathered = new float[picks.Length * h];
            for (int j = 0; j < picks.Length; j++) input.AsSpan(picks[j] / routing.K * h, h).CopyTo(gathered.AsSpan(j * h));
            var result = new float[picks.Length * h];
            Mlp(w.Experts[expert], gathered, picks.Length, result, []); // experts are never adapted (their rows are gathered)
            for (int j = 0; j < picks.Length; j++)
            {
                var row = output.AsSpan(picks[j] / routing.K * h, h);
                TensorPrimitives.MultiplyAdd(result.AsSpan(j * h, h), routing.Weights[picks[j]], row, row);
            }
        }
    }

    /// <summary>For each expert with work, the positions in <see cref="ExpertRouter.Routing"/> (row·k + slot) routed to it.</summary>
    internal static IEnumerable<(int Expert, int[] Picks)> ByExpert(ExpertRouter.Routing routing, int experts)
    {
        var lists = new List<int>[experts];
        for (int i = 0; i < routing.Experts.Length; i++) (lists[routing.Experts[i]] ??= []).Add(i);
        for (int e = 0; e < experts; e++)
            if (lists[e] is { } list) yield return (e, list.ToArray());
    }
}

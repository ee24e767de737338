namespace Bamba.Training;

/// <summary>
/// Initial weights for a model trained from scratch, following transformers' BambaPreTrainedModel._init_weights:
/// linear and embedding weights ~ N(0, initializer_range), biases 0, norm weights 1, <c>A_log = log(1..heads)</c>,
/// <c>D = 1</c>, <c>dt_bias = 1</c>; the depthwise conv keeps torch's default U(±1/√K).
/// </summary>
internal static class Initializer
{
    public static void Apply(ParameterSet set, ulong seed)
    {
        var rng = new SplitMix64(seed);
        float std = (float)set.Config.InitializerRange;
        float convBound = 1f / MathF.Sqrt(set.Config.MambaDConv);
        foreach (var p in set.All)
        {
            if (p.Name.EndsWith("conv1d.weight") || p.Name.EndsWith("conv1d.bias"))
                for (int i = 0; i < p.Length; i++) p.Value[i] = (float)((rng.NextDouble() * 2 - 1) * convBound);
            else if (p.Name.EndsWith("A_log"))
                for (int i = 0; i < p.Length; i++) p.Value[i] = MathF.Log(i + 1);
            else if (p.Name.EndsWith(".bias") || p.Name.EndsWith("correction_bias"))
                Array.Clear(p.Value);
            else if (p.Shape.Length == 1)
                Array.Fill(p.Value, 1f); // norms, D, dt_bias
            else
                for (int i = 0; i < p.Length; i++) p.Value[i] = (float)rng.NextNormal() * std;
        }
    }
}

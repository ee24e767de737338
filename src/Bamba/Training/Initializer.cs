namespace Bamba.Training;

/// <summary>
/// Initial weights for a model trained from scratch, following transformers' BambaPreTrainedModel._init_weights:
/// linear and embedding weights ~ N(0, initializer_range), biases 0, norm weights 1, <c>A_log = log(1..heads)</c>,
/// <c>D = 1</c>, <c>dt_bias = 1</c>; the depthwise conv keeps torch's default U(±1/√K).
/// </summary>
internal static class Initializer
{
    /// <summary>Values a random stream fills: each such chunk of a tensor has its own stream.</summary>
    private const int Chunk = 1 << 20;

    /// <summary>
    /// Fills every parameter. The random tensors are cut into chunks, each with its own stream seeded from
    /// <paramref name="seed"/>, the tensor's index and the chunk's, and filled in parallel: a 9 B-parameter shape takes
    /// seconds instead of minutes on one stream, and the values do not depend on how many threads ran.
    /// </summary>
    public static void Apply(ParameterSet set, ulong seed)
    {
        float std = (float)set.Config.InitializerRange;
        float convBound = 1f / MathF.Sqrt(set.Config.MambaDConv);
        var random = new List<(Parameter P, int Tensor, int Chunk)>();
        void Random(Parameter p, int tensor)
        {
            for (int c = 0; c < (p.Length + Chunk - 1) / Chunk; c++) random.Add((p, tensor, c));
        }
        int index = 0;
        foreach (var p in set.All)
        {
            if (IsConv(p)) Random(p, index);
            else if (p.Name.EndsWith("A_log"))
                for (int i = 0; i < p.Length; i++) p.Value[i] = MathF.Log(i + 1);
            else if (p.Name.EndsWith(".bias") || p.Name.EndsWith("correction_bias"))
                Array.Clear(p.Value);
            else if (p.Shape.Length == 1)
                Array.Fill(p.Value, 1f); // norms, D, dt_bias
            else Random(p, index);
            index++;
        }
        Parallel.ForEach(random, w =>
        {
            var rng = new SplitMix64(new SplitMix64(seed ^ ((ulong)w.Tensor << 32 | (uint)w.Chunk)).NextUInt64());
            var values = w.P.Value.AsSpan(w.Chunk * Chunk, Math.Min(Chunk, w.P.Length - w.Chunk * Chunk));
            if (IsConv(w.P))
                for (int i = 0; i < values.Length; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * convBound);
            else
                for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextNormal() * std;
        });
    }

    private static bool IsConv(Parameter p) => p.Name.EndsWith("conv1d.weight") || p.Name.EndsWith("conv1d.bias");
}

using Bamba.Backends.Cpu;
using Bamba.Modeling;

namespace Bamba.Weights.CompressedTensors;

/// <summary>
/// Static input scales for <c>bamba quantize --scheme static</c>: the calibration tokens run through the float model on
/// the CPU while <see cref="Linear.Observer"/> keeps each weight's largest input magnitude (llm-compressor's min-max
/// observer over the whole calibration set); a module's input scale is then max|x| / 448.
/// </summary>
internal static class Fp8Calibration
{
    /// <summary>Tokens per forward: long texts run in pieces, the state carried over, so memory stays bounded.</summary>
    private const int PieceTokens = 512;

    /// <summary>The largest input magnitude seen by each module (by name, without ".weight"), over <paramref name="tokens"/>.</summary>
    public static Dictionary<string, float> MaxInputs(BambaModel model, int[] tokens, Action<string, int, int>? progress)
    {
        var max = new Dictionary<string, float>(StringComparer.Ordinal);
        Linear.Observer = (in WeightTensor w, ReadOnlySpan<float> x) =>
        {
            string module = ModuleOf(w.Info.Name);
            float m = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(x);
            max[module] = Math.Max(max.GetValueOrDefault(module), float.IsNaN(m) ? 0 : Math.Abs(m));
        };
        try
        {
            using var state = model.CreateState();
            for (int start = 0; start < tokens.Length; start += PieceTokens)
            {
                model.Step([state], [tokens[start..Math.Min(tokens.Length, start + PieceTokens)]]);
                progress?.Invoke("calibration tokens", Math.Min(tokens.Length, start + PieceTokens), tokens.Length);
            }
        }
        finally { Linear.Observer = null; }
        return max;
    }

    /// <summary>"m.weight" or a view of it ("m.weight[0:8]", an expert "m.weight[3]") → "m".</summary>
    private static string ModuleOf(string tensor)
    {
        int view = tensor.IndexOf('[');
        string name = view < 0 ? tensor : tensor[..view];
        return name.EndsWith(Fp8Scales.WeightSuffix, StringComparison.Ordinal) ? name[..^Fp8Scales.WeightSuffix.Length] : name;
    }
}

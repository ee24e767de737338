using System.Numerics.Tensors;

namespace Bamba.Training;

/// <summary>Hyper-parameters of <see cref="AdamW"/> (torch's defaults except betas and weight decay, the usual LM settings).</summary>
public sealed record AdamWOptions(float Beta1 = 0.9f, float Beta2 = 0.95f, float Epsilon = 1e-8f, float WeightDecay = 0.1f);

/// <summary>
/// AdamW with decoupled weight decay, as torch.optim.AdamW computes it: <c>p ← p − lr·wd·p</c>, then
/// <c>p ← p − lr·m̂/(√v̂ + eps)</c> with bias-corrected moments. Moments are float32, one pair per parameter.
/// </summary>
public sealed class AdamW
{
    public AdamW(ParameterSet parameters, AdamWOptions options) : this(parameters.All, options) { }

    /// <summary>An optimizer over some parameters only (a LoRA run's adapters): the others get no moments.</summary>
    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions options)
    {
        Trained = parameters;
        Options = options;
        foreach (var p in parameters) { First[p.Name] = new float[p.Length]; Second[p.Name] = new float[p.Length]; }
    }

    /// <summary>The parameters it updates (and whose moments it keeps).</summary>
    public IReadOnlyList<Parameter> Trained { get; }
    public AdamWOptions Options { get; }
    /// <summary>Updates taken so far (the bias correction's t).</summary>
    public int Step { get; set; }
    public Dictionary<string, float[]> First { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, float[]> Second { get; } = new(StringComparer.Ordinal);

    public void Update(float lr)
    {
        Step++;
        float b1 = Options.Beta1, b2 = Options.Beta2;
        float correction1 = 1f - MathF.Pow(b1, Step), correction2 = 1f - MathF.Pow(b2, Step);
        Parallel.ForEach(Trained.Where(p => p.Trainable), p =>
        {
            var (m, v, w, g) = (First[p.Name], Second[p.Name], p.Value, p.Grad);
            if (p.Decay && Options.WeightDecay > 0) TensorPrimitives.Multiply(w, 1f - lr * Options.WeightDecay, w);
            for (int i = 0; i < w.Length; i++)
            {
                m[i] = b1 * m[i] + (1f - b1) * g[i];
                v[i] = b2 * v[i] + (1f - b2) * g[i] * g[i];
                w[i] -= lr * (m[i] / correction1) / (MathF.Sqrt(v[i] / correction2) + Options.Epsilon);
            }
        });
    }
}

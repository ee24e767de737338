namespace Bamba.Training;

/// <summary>torch.nn.utils.clip_grad_norm_: scales all gradients by <c>max/(norm + 1e-6)</c> when their global L2 norm exceeds max.</summary>
public static class GradientClipping
{
    /// <summary>Returns the norm before clipping.</summary>
    public static double ClipGlobalNorm(ParameterSet parameters, double maxNorm) => ClipGlobalNorm(parameters.All, maxNorm);

    /// <summary>Over some parameters only (what the optimizer updates).</summary>
    public static double ClipGlobalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        double sum = 0;
        foreach (var p in parameters)
            foreach (float g in p.Grad) sum += (double)g * g;
        double norm = Math.Sqrt(sum);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in parameters) System.Numerics.Tensors.TensorPrimitives.Multiply(p.Grad, scale, p.Grad);
        }
        return norm;
    }
}

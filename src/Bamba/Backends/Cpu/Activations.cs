namespace Bamba.Backends.Cpu;

public static class Activations
{
    public static float Silu(float v) => v / (1f + MathF.Exp(-v));

    /// <summary>d silu(v)/dv = σ(v)·(1 + v·(1 − σ(v))).</summary>
    public static float SiluDerivative(float v)
    {
        float s = 1f / (1f + MathF.Exp(-v));
        return s * (1f + v * (1f - s));
    }

    /// <summary>d softplus(v)/dv = σ(v), and 1 above torch's threshold where softplus is the identity.</summary>
    public static float SoftplusDerivative(float v) => v > 20f ? 1f : 1f / (1f + MathF.Exp(-v));

    /// <summary>torch's softplus (threshold 20: linear above it).</summary>
    public static float Softplus(float v) => v > 20f ? v : MathF.Log(1f + MathF.Exp(v));

    /// <summary><c>y ← y · silu(z)</c>, element-wise.</summary>
    public static void MultiplyBySilu(Span<float> y, ReadOnlySpan<float> z)
    {
        for (int i = 0; i < y.Length; i++) y[i] *= Silu(z[i]);
    }

    public static void SiluInPlace(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = Silu(x[i]);
    }

    /// <summary>SwiGLU: <c>gate ← silu(gate) · up</c>.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++) gate[i] = Silu(gate[i]) * up[i];
    }
}

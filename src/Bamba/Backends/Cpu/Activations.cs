using System.Numerics.Tensors;

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
        Span<float> sigmoid = stackalloc float[Block];
        for (int i = 0; i < y.Length; i += Block)
        {
            var part = y.Slice(i, Math.Min(Block, y.Length - i));
            var s = SiluBlock(z.Slice(i, part.Length), sigmoid);
            TensorPrimitives.Multiply(part, s, part);
        }
    }

    public static unsafe void SiluInPlace(Span<float> x)
    {
        if (x.Length >= 2 * ParallelGrain)
        {
            fixed (float* p = x) CpuWorkers.Run(new ElementWise(&SiluRange, p, null, x.Length));
            return;
        }
        Span<float> sigmoid = stackalloc float[Block];
        for (int i = 0; i < x.Length; i += Block)
        {
            var part = x.Slice(i, Math.Min(Block, x.Length - i));
            SiluBlock(part, sigmoid).CopyTo(part);
        }
    }

    /// <summary>SwiGLU: <c>gate ← silu(gate) · up</c>.</summary>
    public static unsafe void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        if (gate.Length >= 2 * ParallelGrain)
        {
            if (up.Length < gate.Length) throw new ArgumentException("SwiGlu: up is shorter than gate");
            fixed (float* g = gate, u = up) CpuWorkers.Run(new ElementWise(&SwiGluRange, g, u, gate.Length));
            return;
        }
        Span<float> sigmoid = stackalloc float[Block];
        for (int i = 0; i < gate.Length; i += Block)
        {
            var part = gate.Slice(i, Math.Min(Block, gate.Length - i));
            TensorPrimitives.Multiply(SiluBlock(part, sigmoid), up.Slice(i, part.Length), part);
        }
    }

    /// <summary>Squared ReLU <c>relu(x)²</c> in place (Nemotron-H's MLP activation).</summary>
    public static void SquaredReluInPlace(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = x[i] > 0f ? x[i] * x[i] : 0f;
    }

    /// <summary>
    /// Values per chunk when an activation is spread over <see cref="CpuWorkers"/>: a prefill's SwiGLU (128 × 4096) or
    /// SiLU over the conv output ran on one core while the other waited. Element-wise, so the split changes no value.
    /// </summary>
    private const int ParallelGrain = 16 * 1024;

    private static unsafe void SiluRange(float* x, float* unused, int n) => SiluInPlace(new Span<float>(x, n));
    private static unsafe void SwiGluRange(float* gate, float* up, int n) => SwiGlu(new Span<float>(gate, n), new ReadOnlySpan<float>(up, n));

    /// <summary>An element-wise operation over one or two arrays, in chunks of <see cref="ParallelGrain"/> values.</summary>
    private sealed unsafe class ElementWise(delegate*<float*, float*, int, void> op, float* a, float* b, int length)
        : ChunkedWork((length + ParallelGrain - 1) / ParallelGrain)
    {
        protected override void RunChunk(int chunk)
        {
            int start = chunk * ParallelGrain;
            op(a + start, b is null ? null : b + start, Math.Min(ParallelGrain, length - start));
        }
    }

    /// <summary>Elements per vectorised pass: a stack buffer that stays in L1.</summary>
    private const int Block = 512;

    /// <summary><c>silu(v) = v · σ(v)</c> of up to <see cref="Block"/> values into <paramref name="buffer"/>, vectorised
    /// (a decode step takes ~200 000 of them; scalar MathF.Exp cost ~0.9 ms a token).</summary>
    private static Span<float> SiluBlock(ReadOnlySpan<float> v, Span<float> buffer)
    {
        var result = buffer[..v.Length];
        TensorPrimitives.Sigmoid(v, result);
        TensorPrimitives.Multiply(result, v, result);
        return result;
    }
}

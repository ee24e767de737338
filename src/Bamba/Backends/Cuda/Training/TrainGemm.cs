namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// The three GEMMs of a linear layer's training on row-major float32 activations, with fp32 accumulation and fp32
/// outputs. In bf16 mode the operands are bf16 (weights from their bf16 copies, activations cast on the fly): the
/// mixed-precision recipe; in fp32 mode everything stays float32 (the parity mode).
/// </summary>
public sealed class TrainGemm(CudaTrainOps ops, CudaParameters parameters, DeviceScratch scratch)
{
    private CudaPrecision Precision => parameters.Precision;

    /// <summary><c>y[n, m] = x[n, k] · W[m, k]ᵀ</c>.</summary>
    public void Forward(ulong x, string weight, ulong y, int n, int m, int k) =>
        Gemm(new(true, false, m, n, k, k, k, m, Precision, true), parameters.GemmOperand(weight), Cast(x, (long)n * k, "a"), y, 0f);

    /// <summary><c>dx[n, k] (+)= dy[n, m] · W[m, k]</c>.</summary>
    public void InputGrad(ulong dy, string weight, ulong dx, int n, int m, int k, bool accumulate) =>
        Gemm(new(false, false, k, n, m, k, m, k, Precision, true), parameters.GemmOperand(weight), Cast(dy, (long)n * m, "a"), dx, accumulate ? 1f : 0f);

    /// <summary><c>dW[m, k] += dy[n, m]ᵀ · x[n, k]</c> into the weight's float32 gradient.</summary>
    public void WeightGrad(ulong dy, ulong x, string weight, int n, int m, int k) =>
        Gemm(new(false, true, k, m, n, k, m, k, Precision, true), Cast(x, (long)n * k, "a"), Cast(dy, (long)n * m, "b"), parameters.Grad(weight), 1f);

    private void Gemm(GemmShape shape, ulong a, ulong b, ulong c, float beta) => ops.Ops.Gemm.Matmul(shape, a, b, c, beta);

    /// <summary>The operand as the GEMM reads it: itself in fp32 mode, a bf16 copy in scratch slot <paramref name="slot"/> in bf16 mode.</summary>
    private ulong Cast(ulong x, long n, string slot)
    {
        if (Precision == CudaPrecision.Float32) return x;
        ulong copy = scratch.Get("gemm." + slot, 2 * n);
        ops.ToBFloat16(x, copy, n);
        return copy;
    }
}

using Bamba.Training.Lora;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// The three GEMMs of a linear layer's training on row-major float32 activations, with fp32 accumulation and fp32
/// outputs. In bf16 mode the operands are bf16 (weights from their bf16 copies, activations cast on the fly): the
/// mixed-precision recipe; in fp32 mode everything stays float32 (the parity mode). Under LoRA the base is frozen (no
/// weight gradient) and an adapted matrix W gets its low-rank path beside it, as the CPU's LoraPath computes it:
/// <c>y += s·(x·Aᵀ)·Bᵀ</c>; <c>dB += s·dyᵀ·low</c>, <c>dA += (s·dy·B)ᵀ·x</c>, <c>dx += (s·dy·B)·A</c>.
/// </summary>
public sealed class TrainGemm(CudaTrainOps ops, CudaParameters parameters, DeviceScratch scratch, CudaLora? lora = null)
{
    private CudaPrecision Precision => parameters.Precision;

    /// <summary><c>y[n, m] = x[n, k] · W[m, k]ᵀ</c> (plus the adapter's path, whose low-rank activation is kept for the backward).</summary>
    public void Forward(ulong x, string weight, ulong y, int n, int m, int k)
    {
        Linear(parameters.GemmOperand(weight), x, y, n, m, k, 0f);
        if (Adapter(weight) is not { } a) return;
        ulong low = Low(weight, n, a.Rank);
        Linear(lora!.Adapters.GemmOperand(a.A.Name), x, low, n, a.Rank, k, 0f);
        Linear(lora.Adapters.GemmOperand(a.B.Name), low, y, n, m, a.Rank, 1f, lora.Scale);
    }

    /// <summary><c>dx[n, k] (+)= dy[n, m] · W[m, k]</c> (plus the adapter's share).</summary>
    public void InputGrad(ulong dy, string weight, ulong dx, int n, int m, int k, bool accumulate)
    {
        InputGrad(parameters.GemmOperand(weight), dy, dx, n, m, k, accumulate ? 1f : 0f);
        if (Adapter(weight) is not { } a) return;
        ulong dLow = DLow(a, dy, n, m);
        InputGrad(lora!.Adapters.GemmOperand(a.A.Name), dLow, dx, n, a.Rank, k, 1f);
    }

    /// <summary><c>dW[m, k] += dy[n, m]ᵀ · x[n, k]</c> into the weight's float32 gradient; under LoRA, dA and dB instead.</summary>
    public void WeightGrad(ulong dy, ulong x, string weight, int n, int m, int k)
    {
        if (!parameters.Frozen) WeightGrad(dy, x, parameters.Grad(weight), n, m, k, 1f);
        if (Adapter(weight) is not { } a) return;
        WeightGrad(dy, Low(weight, n, a.Rank), lora!.Adapters.Grad(a.B.Name), n, m, a.Rank, lora.Scale);
        WeightGrad(DLow(a, dy, n, m), x, lora.Adapters.Grad(a.A.Name), n, a.Rank, k, 1f);
    }

    private LoraAdapter? Adapter(string weight) => lora?.For(weight);

    /// <summary>The adapter's low-rank activation x·Aᵀ [n, r] of this forward, one buffer per adapted matrix.</summary>
    private ulong Low(string weight, int n, int rank) => scratch.Get("lora.low." + weight, 4L * n * rank);

    /// <summary><c>s·dy·B</c> [n, r]: the gradient of the low-rank activation.</summary>
    private ulong DLow(LoraAdapter a, ulong dy, int n, int m)
    {
        ulong dLow = scratch.Get("lora.dlow", 4L * n * a.Rank);
        InputGrad(lora!.Adapters.GemmOperand(a.B.Name), dy, dLow, n, m, a.Rank, 0f, lora.Scale);
        return dLow;
    }

    /// <summary><c>y[n, m] = alpha·x[n, k]·W[m, k]ᵀ + beta·y</c>.</summary>
    private void Linear(ulong w, ulong x, ulong y, int n, int m, int k, float beta, float alpha = 1f) =>
        Gemm(new(true, false, m, n, k, k, k, m, Precision, true), w, Cast(x, (long)n * k, "a"), y, beta, alpha);

    /// <summary><c>dx[n, k] = alpha·dy[n, m]·W[m, k] + beta·dx</c>.</summary>
    private void InputGrad(ulong w, ulong dy, ulong dx, int n, int m, int k, float beta, float alpha = 1f) =>
        Gemm(new(false, false, k, n, m, k, m, k, Precision, true), w, Cast(dy, (long)n * m, "a"), dx, beta, alpha);

    /// <summary><c>grad[m, k] += alpha·dy[n, m]ᵀ·x[n, k]</c>.</summary>
    private void WeightGrad(ulong dy, ulong x, ulong grad, int n, int m, int k, float alpha) =>
        Gemm(new(false, true, k, m, n, k, m, k, Precision, true), Cast(x, (long)n * k, "a"), Cast(dy, (long)n * m, "b"), grad, 1f, alpha);

    private void Gemm(GemmShape shape, ulong a, ulong b, ulong c, float beta, float alpha) => ops.Ops.Gemm.Matmul(shape, a, b, c, beta, alpha);

    /// <summary>The operand as the GEMM reads it: itself in fp32 mode, a bf16 copy in scratch slot <paramref name="slot"/> in bf16 mode.</summary>
    private ulong Cast(ulong x, long n, string slot)
    {
        if (Precision == CudaPrecision.Float32) return x;
        ulong copy = scratch.Get("gemm." + slot, 2 * n);
        ops.ToBFloat16(x, copy, n);
        return copy;
    }
}

using Bamba.Training;
using Bamba.Training.Lora;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// The three GEMMs of a linear layer's training on row-major float32 activations, with fp32 accumulation and fp32
/// outputs. A weight is a <see cref="ParameterSlice"/>: a whole parameter, or the part of one that an op reads as its own
/// matrix (half of a fused gate|up, one of stacked experts). In bf16 mode the operands are bf16 (weights from their bf16
/// copies, activations cast on the fly): the mixed-precision recipe; in fp32 mode everything stays float32 (the parity
/// mode). <c>float32: true</c> keeps a GEMM in float32 whatever the mode (the router, as inference runs it). Under LoRA
/// the base is frozen (no weight gradient) and an adapted matrix W gets its low-rank path beside it, as the CPU's
/// LoraPath computes it: <c>y += s·(x·Aᵀ)·Bᵀ</c>; <c>dB += s·dyᵀ·low</c>, <c>dA += (s·dy·B)ᵀ·x</c>, <c>dx += (s·dy·B)·A</c>.
/// </summary>
public sealed class TrainGemm(CudaTrainOps ops, CudaParameters parameters, DeviceScratch scratch, CudaLora? lora = null)
{
    /// <summary><c>y[n, m] = x[n, k] · W[m, k]ᵀ</c> (plus the adapter's path, whose low-rank activation is kept for the backward).</summary>
    public void Forward(ulong x, ParameterSlice weight, ulong y, int n, int m, int k, bool float32 = false)
    {
        var p = Mode(float32);
        Linear(Operand(weight, p), x, y, n, m, k, 0f, p);
        if (Adapter(weight) is not { } a) return;
        ulong low = Low(weight, n, a.Rank);
        Linear(AdapterOperand(a.A, p), x, low, n, a.Rank, k, 0f, p);
        Linear(AdapterOperand(a.B, p), low, y, n, m, a.Rank, 1f, p, lora!.Scale);
    }

    /// <summary><c>dx[n, k] (+)= dy[n, m] · W[m, k]</c> (plus the adapter's share).</summary>
    public void InputGrad(ulong dy, ParameterSlice weight, ulong dx, int n, int m, int k, bool accumulate, bool float32 = false)
    {
        var p = Mode(float32);
        InputGrad(Operand(weight, p), dy, dx, n, m, k, accumulate ? 1f : 0f, p);
        if (Adapter(weight) is not { } a) return;
        ulong dLow = DLow(a, dy, n, m, p);
        InputGrad(AdapterOperand(a.A, p), dLow, dx, n, a.Rank, k, 1f, p);
    }

    /// <summary><c>dW[m, k] += dy[n, m]ᵀ · x[n, k]</c> into the weight's float32 gradient; under LoRA, dA and dB instead.</summary>
    public void WeightGrad(ulong dy, ulong x, ParameterSlice weight, int n, int m, int k, bool float32 = false)
    {
        var p = Mode(float32);
        if (!parameters.Frozen) WeightGrad(dy, x, parameters.Grad(weight), n, m, k, 1f, p);
        if (Adapter(weight) is not { } a) return;
        WeightGrad(dy, Low(weight, n, a.Rank), lora!.Adapters.Grad(a.B.Name), n, m, a.Rank, lora.Scale, p);
        WeightGrad(DLow(a, dy, n, m, p), x, lora.Adapters.Grad(a.A.Name), n, a.Rank, k, 1f, p);
    }

    private CudaPrecision Mode(bool float32) => float32 ? CudaPrecision.Float32 : parameters.Precision;

    /// <summary>The weight as a GEMM of this precision reads it: its master values in float32, its bf16 copy in bf16.</summary>
    private ulong Operand(ParameterSlice weight, CudaPrecision p) =>
        p == CudaPrecision.Float32 ? parameters.Value(weight) : parameters.GemmOperand(weight);

    private ulong AdapterOperand(Parameter adapter, CudaPrecision p) =>
        p == CudaPrecision.Float32 ? lora!.Adapters.Value(adapter) : lora!.Adapters.GemmOperand(adapter.Name);

    /// <summary>The adapter beside a whole matrix; adapters sit only beside whole matrices on the GPU (see CudaTrainableModel).</summary>
    private LoraAdapter? Adapter(ParameterSlice weight) =>
        lora?.For(weight.Parameter.Name) is { } a && weight.Offset == 0 && weight.Length == weight.Parameter.Length ? a : null;

    /// <summary>The adapter's low-rank activation x·Aᵀ [n, r] of this forward, one buffer per adapted matrix.</summary>
    private ulong Low(ParameterSlice weight, int n, int rank) => scratch.Get("lora.low." + weight.Parameter.Name, 4L * n * rank);

    /// <summary><c>s·dy·B</c> [n, r]: the gradient of the low-rank activation.</summary>
    private ulong DLow(LoraAdapter a, ulong dy, int n, int m, CudaPrecision p)
    {
        ulong dLow = scratch.Get("lora.dlow", 4L * n * a.Rank);
        InputGrad(AdapterOperand(a.B, p), dy, dLow, n, m, a.Rank, 0f, p, lora!.Scale);
        return dLow;
    }

    /// <summary><c>y[n, m] = alpha·x[n, k]·W[m, k]ᵀ + beta·y</c>.</summary>
    private void Linear(ulong w, ulong x, ulong y, int n, int m, int k, float beta, CudaPrecision p, float alpha = 1f) =>
        Gemm(new(true, false, m, n, k, k, k, m, p, true), w, Cast(x, (long)n * k, "a", p), y, beta, alpha);

    /// <summary><c>dx[n, k] = alpha·dy[n, m]·W[m, k] + beta·dx</c>.</summary>
    private void InputGrad(ulong w, ulong dy, ulong dx, int n, int m, int k, float beta, CudaPrecision p, float alpha = 1f) =>
        Gemm(new(false, false, k, n, m, k, m, k, p, true), w, Cast(dy, (long)n * m, "a", p), dx, beta, alpha);

    /// <summary><c>grad[m, k] += alpha·dy[n, m]ᵀ·x[n, k]</c>.</summary>
    private void WeightGrad(ulong dy, ulong x, ulong grad, int n, int m, int k, float alpha, CudaPrecision p) =>
        Gemm(new(false, true, k, m, n, k, m, k, p, true), Cast(x, (long)n * k, "a", p), Cast(dy, (long)n * m, "b", p), grad, 1f, alpha);

    private void Gemm(GemmShape shape, ulong a, ulong b, ulong c, float beta, float alpha) => ops.Ops.Gemm.Matmul(shape, a, b, c, beta, alpha);

    /// <summary>The operand as the GEMM reads it: itself in fp32, a bf16 copy in scratch slot <paramref name="slot"/> in bf16.</summary>
    private ulong Cast(ulong x, long n, string slot, CudaPrecision p)
    {
        if (p == CudaPrecision.Float32) return x;
        ulong copy = scratch.Get("gemm." + slot, 2 * n);
        ops.ToBFloat16(x, copy, n);
        return copy;
    }
}

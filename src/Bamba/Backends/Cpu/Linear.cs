using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = Σ_k x[n, k] · W[m, k] (+ bias[m])</c> with W in its stored dtype (the nn.Linear layout).
/// Few input rows (decode): <see cref="DecodeGemv"/> streams each weight row from memory once. Many rows (prefill,
/// training): <see cref="Gemm"/>, packed panels and register tiles, with the instruction set of <see cref="CpuKernels"/>;
/// Q4_K/Q5_K/Q6_K weights through <see cref="KQuantGemm"/>, in integers over Q8_K inputs as decode does, and Q8_0/Q4_0
/// through <see cref="Q8_0Gemm"/>, in integers over Q8_0 inputs.
/// FP8 (F8_E4M3) weights are expanded value × row scale in both paths; their activations stay float32 (weight-only).
/// </summary>
public static unsafe class Linear
{
    /// <summary>Up to this many input rows, each weight row streams once through <see cref="DecodeGemv"/>.</summary>
    private const int DecodeRowsLimit = 4;

    /// <summary>Sees each weight's input rows before the product: set only while <c>bamba quantize --scheme static</c>
    /// measures activation ranges (<see cref="Weights.CompressedTensors.Fp8Calibration"/>); null otherwise.</summary>
    internal static InputObserver? Observer { get; set; }

    internal delegate void InputObserver(in WeightTensor w, ReadOnlySpan<float> x);

    public static void Forward(ReadOnlySpan<float> x, int n, WeightTensor w, ReadOnlySpan<float> bias, Span<float> y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        if (x.Length < n * k || y.Length < n * m || (!bias.IsEmpty && bias.Length != m))
            throw new ArgumentException("Linear: buffer sizes do not match the weight");
        if (n == 0) return;
        Observer?.Invoke(w, x[..(n * k)]);
        // The quantized products quantize their activations themselves, to the blocks they multiply in integers.
        bool decode = n <= DecodeRowsLimit, kQuant = KQuantDot.Supports(w.DType), q8_0 = Q8_0Weights.Supports(w.DType);
        fixed (float* xp = x, yp = y, bp = bias)
        {
            float* biasOrNull = bias.IsEmpty ? null : bp;
            if (decode) DecodeGemv.Forward(xp, n, w, biasOrNull, yp);
            else if (kQuant) KQuantGemm.Forward(xp, n, w, biasOrNull, yp);
            else if (q8_0) Q8_0Gemm.Forward(xp, n, w, biasOrNull, yp);
            else Gemm.Forward(xp, n, w, biasOrNull, yp);
        }
    }
}

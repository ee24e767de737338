using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// A panel of weight rows transposed to float32 for <see cref="MicroKernel"/>: <c>panel[t, j] = W[r0 + j, t]</c> for
/// j below the panel width, zero past the last row of W, so that each step of the kernel loads one vector of columns.
/// </summary>
internal static unsafe class WeightPanel
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(WeightTensor weight, int k, int r0, int rows, int width, float* panel, CpuInstructionSet set)
    {
        if (weight.DType.IsQuantized() || weight.DType == DType.F8_E4M3) { PackWidened(weight, k, r0, rows, width, panel); return; }
        byte* w = weight.Data;
        var dtype = weight.DType;
        int t = 0;
        if (rows == width && width % 8 == 0 && set != CpuInstructionSet.Scalar)
        {
            if (dtype == DType.BF16) t = GatherBFloat16((ushort*)w + (long)r0 * k, k, width, panel);
            else if (dtype == DType.F32) t = GatherSingle((float*)w + (long)r0 * k, k, width, panel);
        }
        for (; t < k; t++)
            for (int j = 0; j < width; j++)
                panel[(long)t * width + j] = j < rows ? Element(w, dtype, (long)(r0 + j) * k + t) : 0f;
    }

    [ThreadStatic] private static float[]? _rows;

    /// <summary>Block-quantized rows (GGUF's Q8_0, Q4_K ...) or scaled FP8 rows: dequantized whole into a per-thread buffer, then transposed.</summary>
    private static void PackWidened(WeightTensor w, int k, int r0, int rows, int width, float* panel)
    {
        float* widened = ThreadBuffers.Get(ref _rows, rows * k);
        QuantGemv.Widen(w, k, r0, r0 + rows, widened);
        for (int t = 0; t < k; t++)
            for (int j = 0; j < width; j++) panel[(long)t * width + j] = j < rows ? widened[(long)j * k + t] : 0f;
    }

    private static float Element(byte* w, DType dtype, long index) => dtype switch
    {
        DType.BF16 => BFloat16.ToSingle(((ushort*)w)[index]),
        DType.F32 => ((float*)w)[index],
        _ => (float)((Half*)w)[index],
    };

    /// <summary>
    /// Pairs of steps, 8 rows at a time: one 32-bit gather reads elements t (low half) and t + 1 (high half) of each
    /// row, widened by a shift and a mask. Returns the steps packed (all but an odd last one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int GatherBFloat16(ushort* w, int k, int width, float* panel)
    {
        var rowStarts = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * k; // in elements; the gather scales by 2 bytes
        var high = Vector256.Create(0xFFFF0000u);
        int t = 0;
        for (; t + 2 <= k; t += 2)
            for (int j = 0; j < width; j += 8)
            {
                var pair = Avx2.GatherVector256((int*)(w + (long)j * k + t), rowStarts, 2).AsUInt32();
                (pair << 16).AsSingle().Store(panel + (long)t * width + j);
                (pair & high).AsSingle().Store(panel + (long)(t + 1) * width + j);
            }
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int GatherSingle(float* w, int k, int width, float* panel)
    {
        var rowStarts = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * k;
        for (int t = 0; t < k; t++)
            for (int j = 0; j < width; j += 8)
                Avx2.GatherVector256(w + (long)j * k + t, rowStarts, 4).Store(panel + (long)t * width + j);
        return k;
    }
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = Σ_k x[n, k] · W[m, k] (+ bias[m])</c> with W in its stored dtype (the nn.Linear layout).
/// Few input rows (decode): <see cref="DecodeGemv"/> streams each weight row from memory once. Many rows (prefill,
/// training): tiles of 16 weight rows × 64 input rows, each weight tile widened once into a buffer and multiplied
/// with 4 × 4 register blocks.
/// </summary>
public static unsafe class Linear
{
    private const int WeightRowsPerTask = 16;
    private const int InputRowsPerTask = 64;
    /// <summary>Up to this many input rows, each weight row streams once through <see cref="DecodeGemv"/>.</summary>
    private const int DecodeRowsLimit = 4;

    public static void Forward(ReadOnlySpan<float> x, int n, WeightTensor w, ReadOnlySpan<float> bias, Span<float> y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        if (x.Length < n * k || y.Length < n * m || (!bias.IsEmpty && bias.Length != m))
            throw new ArgumentException("Linear: buffer sizes do not match the weight");
        if (w.DType.IsQuantized()) x = QuantizedActivations(x[..(n * k)], w.DType);
        fixed (float* xp = x, yp = y, bp = bias)
        {
            if (n <= DecodeRowsLimit)
            {
                DecodeGemv.Forward(xp, n, w, bias.IsEmpty ? null : bp, yp);
                return;
            }
            var job = new Job(xp, yp, bias.IsEmpty ? null : bp, w.Data, w.DType, n, m, k);
            int weightBlocks = (m + WeightRowsPerTask - 1) / WeightRowsPerTask;
            int inputBlocks = (n + InputRowsPerTask - 1) / InputRowsPerTask;
            Parallel.For(0, weightBlocks * inputBlocks, () => new float[WeightRowsPerTask * k],
                (task, _, buffer) => { job.RunTile(task % weightBlocks, task / weightBlocks, buffer); return buffer; }, _ => { });
        }
    }

    /// <summary>The activations as llama.cpp's CPU backend quantizes them for this weight type (<see cref="Weights.Quants.ActivationQuant"/>).</summary>
    private static float[] QuantizedActivations(ReadOnlySpan<float> x, DType weight)
    {
        var q = new float[x.Length];
        Weights.Quants.ActivationQuant.RoundTrip(weight, x, q);
        return q;
    }

    private readonly struct Job(float* x, float* y, float* bias, byte* w, DType dtype, int n, int m, int k)
    {
        public void RunTile(int weightBlock, int inputBlock, float[] buffer)
        {
            int r0 = weightBlock * WeightRowsPerTask, r1 = Math.Min(m, r0 + WeightRowsPerTask);
            int i0 = inputBlock * InputRowsPerTask, i1 = Math.Min(n, i0 + InputRowsPerTask);
            fixed (float* tile = buffer)
            {
                float* rows = WidenRows(r0, r1, tile);
                int i = i0;
                if (Vector512.IsHardwareAccelerated && r1 - r0 == WeightRowsPerTask)
                    for (; i + 4 <= i1; i += 4) Blocked(i, r0, rows);
                for (; i < i1; i++)
                    for (int r = r0; r < r1; r++)
                        Store(i, r, TensorPrimitives.Dot(new ReadOnlySpan<float>(rows + (long)(r - r0) * k, k), new ReadOnlySpan<float>(x + (long)i * k, k)));
            }
        }

        /// <summary>Four input rows against the 16 weight rows of the tile.</summary>
        private void Blocked(int i, int r0, float* rows)
        {
            Span<float> block = stackalloc float[16];
            for (int j = 0; j < WeightRowsPerTask; j += 4)
            {
                MicroKernel.Dot4x4(x + (long)i * k, k, rows + (long)j * k, k, block);
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) Store(i + a, r0 + j + b, block[a * 4 + b]);
            }
        }

        private void Store(int i, int r, float dot) => y[(long)i * m + r] = dot + (bias is null ? 0f : bias[r]);

        /// <summary>Weight rows [r0, r1) as float32: the mapped data for F32, widened into <paramref name="tile"/> otherwise.</summary>
        private float* WidenRows(int r0, int r1, float* tile)
        {
            long offset = (long)r0 * k;
            int count = (r1 - r0) * k;
            switch (dtype)
            {
                case DType.F32:
                    return (float*)w + offset;
                case DType.BF16:
                    BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)w + offset, count), new Span<float>(tile, count));
                    return tile;
                case DType.F16:
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)w + offset, count), new Span<float>(tile, count));
                    return tile;
                default:
                    QuantGemv.Widen(w, dtype, k, r0, r1, tile);
                    return tile;
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ (+ bias)</c> for many input rows over a Q8_0 or Q4_0 W, in integers as llama.cpp's
/// CPU backend does it: the input rows are quantized to Q8_0 blocks once per call (<see cref="Q8_0Inputs"/>), each
/// chunk of weight rows (<see cref="PrefillChunks"/>) is unpacked once (<see cref="Q8_0Weights"/>) and dotted with a block
/// of input rows in register tiles (<see cref="Q8_0Tiles"/>), on <see cref="CpuWorkers"/>. Widening Q8_0 to float32
/// for the float GEMM instead left its prefill at 0.91× llama.cpp's. Which tile: AVX-512 with AVX-VNNI, the 2×4
/// vpdpbusd tile; AVX2 (or AVX-512 without VNNI), the 2×2 vpmaddubsw tile; scalar, <see cref="Q8_0Tiles.Dot"/> per
/// pair, the reference the tiles are tested against. All three give the same bits.
/// </summary>
internal static unsafe class Q8_0Gemm
{
    private enum Tile { Scalar, Avx2, Vnni }

    public static void Forward(float* x, int n, WeightTensor w, float* bias, float* y)
    {
        int m = checked((int)w.Shape[0]), k = checked((int)w.Shape[1]);
        var set = CpuKernels.Current;
        var tile = set == CpuInstructionSet.Scalar ? Tile.Scalar
            : set == CpuInstructionSet.Avx512 && AvxVnni.IsSupported ? Tile.Vnni : Tile.Avx2;
        var inputs = Q8_0Inputs.Rent(n, k); // the caller's thread's: the workers use it only inside Run
        CpuWorkers.Run(new Quantize(x, k, inputs, n, tile != Tile.Scalar));
        int columns = tile switch { Tile.Vnni => Q8_0Tiles.ColumnsVnni, Tile.Avx2 => Q8_0Tiles.Columns256, _ => 1 };
        long inputBytes = inputs.Groups * (Q8_0Interleaved.GroupBytes + Q8_0Interleaved.GroupBlocks * sizeof(float));
        CpuWorkers.Run(new Work(w, inputs, bias, y, k, PrefillChunks.For(n, m, inputBytes, columns), tile));
    }

    private sealed class Quantize(float* x, int k, Q8_0Interleaved inputs, int n, bool vector) : ChunkedWork(n)
    {
        protected override void RunChunk(int i) => Q8_0Inputs.Quantize(x + (long)i * k, k, inputs.Row(i), vector);
    }

    /// <summary>A chunk: a block of weight rows × a block of input rows.</summary>
    private sealed class Work(WeightTensor w, Q8_0Interleaved inputs, float* bias, float* y, int k, PrefillChunks s, Tile tile)
        : ChunkedWork(s.Count)
    {
        private readonly long _rowBytes = w.DType.ByteCount(k);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
        protected override void RunChunk(int chunk)
        {
            var (r0, rows, c0, cols) = s[chunk];
            var unpacked = Q8_0WeightBuffers.Rent(PrefillChunks.RowBlock, k);
            for (int r = 0; r < rows; r++) unpacked.Row(r).Unpack(w.DType, w.Data + (r0 + r) * _rowBytes, k, tile != Tile.Scalar);
            var first = inputs.Row(c0);
            if (tile == Tile.Scalar)
            {
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) y[(long)(c0 + c) * s.M + r0 + r] = Q8_0Tiles.Dot(unpacked.Row(r), first.Row(c)) + Bias(r0 + r);
                return;
            }
            for (int r = 0; r < rows; r += 2)
            {
                // An odd last row: the second weight row aliases the first and stores to the same place.
                int step = Math.Min(1, rows - 1 - r);
                float* at = y + (long)c0 * s.M + r0 + r;
                if (tile == Tile.Vnni) Q8_0Tiles.RunVnni(unpacked.Row(r), unpacked.Row(r + step), step, Bias(r0 + r), Bias(r0 + r + step), first, cols, at, s.M);
                else Q8_0Tiles.Run256(unpacked.Row(r), unpacked.Row(r + step), step, Bias(r0 + r), Bias(r0 + r + step), first, cols, at, s.M);
            }
        }

        private float Bias(int r) => bias is null ? 0f : bias[r];
    }
}

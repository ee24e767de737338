using Bamba.Modeling;
using Bamba.Numerics;

namespace Bamba.Backends.Cuda;

/// <summary>
/// LoRA adapters applied unmerged beside one device matrix of stacked parts (q|k|v, gate|up, or a single matrix):
/// <c>y += (x·Aᵀ)·Bᵀ</c> as two thin GEMMs. The parts' A matrices are stacked by rows into one [R, in] matrix (R the
/// sum of their ranks) and their B matrices, pre-scaled by alpha/r, laid block-diagonally into one [out, R] matrix
/// whose other entries are zero, so both products run over whole buffers (no offset operand, which cuBLASLt's
/// alignment assumptions would not allow) and a part without an adapter gets exactly zero. The extra cost is
/// 2·R·(in + out) multiply-adds a row.
/// </summary>
internal sealed class CudaLowRank
{
    public required ulong A, B;
    public required int Rank, Inputs, Outputs;

    /// <summary>The stacked adapters of <paramref name="parts"/> (each a delta or null, and its rows in the stacked matrix); null when none has one.</summary>
    public static CudaLowRank? Stack(CudaOps ops, List<DeviceBuffer> owned, params (LowRankDelta? Delta, int Rows)[] parts)
    {
        var present = parts.Where(p => p.Delta is not null).Select(p => p.Delta!).ToList();
        if (present.Count == 0) return null;
        int inputs = present[0].Inputs, rank = present.Sum(d => d.Rank), outputs = parts.Sum(p => p.Rows);
        var a = new float[(long)rank * inputs];
        var b = new float[(long)outputs * rank];
        int row = 0, column = 0;
        foreach (var (delta, rows) in parts)
        {
            if (delta is not null)
            {
                if (delta.Inputs != inputs || delta.Outputs != rows)
                    throw new BambaException($"LoRA adapter of shape [{delta.Outputs}, {delta.Inputs}] does not fit a matrix part of [{rows}, {inputs}]");
                delta.A.Span.CopyTo(a.AsSpan(column * inputs));
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < delta.Rank; j++)
                        b[(long)(row + r) * rank + column + j] = delta.Scale * delta.B.Span[r * delta.Rank + j];
                column += delta.Rank;
            }
            row += rows;
        }
        return new CudaLowRank { A = Upload(ops, owned, a), B = Upload(ops, owned, b), Rank = rank, Inputs = inputs, Outputs = outputs };
    }

    /// <summary>A host matrix in the activation type.</summary>
    private static ulong Upload(CudaOps ops, List<DeviceBuffer> owned, float[] values)
    {
        var buffer = ops.Precision == CudaPrecision.Float32
            ? ops.Device.Upload<float>(values)
            : ops.Device.Upload<ushort>(values.Select(BFloat16.FromSingle).ToArray());
        owned.Add(buffer);
        return buffer.Pointer;
    }
}

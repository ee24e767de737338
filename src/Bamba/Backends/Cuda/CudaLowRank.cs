using Bamba.Modeling;
using Bamba.Numerics;

namespace Bamba.Backends.Cuda;

/// <summary>
/// LoRA adapters applied unmerged beside one device matrix of stacked parts (q|k|v, gate|up, or a single matrix):
/// <c>y += (x·Aᵀ)·Bᵀ</c> as two thin GEMMs. Every adapter of every part (the model's own, which every row gets, and
/// those sequences pick) is stacked by rows into one [R, in] A matrix (R the sum of their ranks), and their B
/// matrices, pre-scaled by alpha/r, laid into one [out, R] matrix, each in its part's rows and its own columns, zero
/// elsewhere, so both products run over whole buffers (no offset operand, which cuBLASLt's alignment assumptions would
/// not allow) and a part without an adapter gets exactly zero. With picked adapters, <see cref="Groups"/> names each
/// column's adapter and, between the two products, a row's columns of adapters it did not pick are zeroed: every row
/// gets its own adapter in one pair of GEMMs, however the batch mixes them. The extra cost is 2·R·(in + out)
/// multiply-adds a row, R counting every adapter's rank.
/// </summary>
internal sealed class CudaLowRank
{
    public required ulong A, B;
    public required int Rank, Inputs, Outputs;

    /// <summary>
    /// Device ints [Rank]: the adapter each column of the low-rank product belongs to (0: the model's own, every row's;
    /// i: picked adapter i, as <see cref="Generation.SequenceState.Adapter"/>); 0 (null) when no column is picked.
    /// </summary>
    public ulong Groups { get; init; }

    /// <summary>The stacked adapters of <paramref name="parts"/> (each its deltas or null, and its rows in the stacked matrix); null when none has one.</summary>
    public static CudaLowRank? Stack(CudaOps ops, List<DeviceBuffer> owned, params (AdapterDeltas? Deltas, int Rows)[] parts)
    {
        if (Layout(parts) is not { } m) return null;
        return new CudaLowRank
        {
            A = Upload(ops, owned, m.A), B = Upload(ops, owned, m.B), Rank = m.Rank, Inputs = m.Inputs, Outputs = m.Outputs,
            Groups = m.Groups.Any(g => g != 0) ? Owned(owned, ops.Device.Upload<int>(m.Groups)) : 0,
        };
    }

    /// <summary>The stacked A [Rank, Inputs], B [Outputs, Rank] (alpha/r applied) and each column's adapter, on the host.</summary>
    internal sealed record Matrices(float[] A, float[] B, int[] Groups, int Rank, int Inputs, int Outputs);

    /// <summary>The host side of <see cref="Stack"/>: columns part by part, in each the model's own adapter, then the picked ones in order.</summary>
    internal static Matrices? Layout(params (AdapterDeltas? Deltas, int Rows)[] parts)
    {
        int picked = parts.Max(p => p.Deltas?.PickedCount ?? 0);
        var blocks = new List<(LowRankDelta Delta, int Row, int Rows, int Group)>();
        int row = 0;
        foreach (var (deltas, rows) in parts)
        {
            for (int group = 0; group <= picked && deltas is not null; group++)
                if ((group == 0 ? deltas.Shared : deltas.Picked(group)) is { } d) blocks.Add((d, row, rows, group));
            row += rows;
        }
        if (blocks.Count == 0) return null;
        int inputs = blocks[0].Delta.Inputs, rank = blocks.Sum(b => b.Delta.Rank), outputs = row;
        var a = new float[(long)rank * inputs];
        var b = new float[(long)outputs * rank];
        var groups = new int[rank];
        int column = 0;
        foreach (var (delta, first, rows, group) in blocks)
        {
            if (delta.Inputs != inputs || delta.Outputs != rows)
                throw new BambaException($"LoRA adapter of shape [{delta.Outputs}, {delta.Inputs}] does not fit a matrix part of [{rows}, {inputs}]");
            delta.A.Span.CopyTo(a.AsSpan(column * inputs));
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < delta.Rank; j++)
                    b[(long)(first + r) * rank + column + j] = delta.Scale * delta.B.Span[r * delta.Rank + j];
            groups.AsSpan(column, delta.Rank).Fill(group);
            column += delta.Rank;
        }
        return new Matrices(a, b, groups, rank, inputs, outputs);
    }

    /// <summary>A host matrix in the activation type.</summary>
    private static ulong Upload(CudaOps ops, List<DeviceBuffer> owned, float[] values) => Owned(owned, ops.Precision == CudaPrecision.Float32
        ? ops.Device.Upload<float>(values)
        : ops.Device.Upload<ushort>(values.Select(BFloat16.FromSingle).ToArray()));

    private static ulong Owned(List<DeviceBuffer> owned, DeviceBuffer buffer)
    {
        owned.Add(buffer);
        return buffer.Pointer;
    }
}

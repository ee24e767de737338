using Bamba.Backends.Cuda;
using Bamba.Modeling;

namespace Bamba.Tests.Backends;

/// <summary>
/// The host layout of the CUDA LoRA product (<see cref="CudaLowRank.Layout"/>): every adapter of a stacked matrix's
/// parts in one A and one B, with each column's adapter. Computed here as the GPU computes it (x·Aᵀ, the columns of
/// adapters a row did not pick zeroed, times Bᵀ), each row must get what <see cref="AdapterDeltas"/> gives it on the
/// CPU; the kernels themselves are checked on the GPU (CudaMultiLoraTests).
/// </summary>
public sealed class LowRankLayoutTests
{
    private const int Inputs = 5;
    private readonly Random _random = new(7);

    private LowRankDelta Delta(int rank, int outputs) => new(Values(rank * Inputs), Values(outputs * rank), rank, Inputs, outputs, 0.5f + rank);

    private float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(_random.NextDouble() * 2 - 1)).ToArray();

    [Fact]
    public void EveryRowGetsTheModelsOwnAdapterAndItsPickedOneOnly()
    {
        // q|k|v parts of 6, 4 and 4 rows; three adapters to pick. q: its own adapter and picked 1 and 3; k: none; v: picked 2 and 3.
        (AdapterDeltas?, int)[] parts =
        [
            (new AdapterDeltas(Delta(2, 6), [Delta(3, 6), null, Delta(1, 6)]), 6),
            (null, 4),
            (new AdapterDeltas(null, [null, Delta(2, 4), Delta(2, 4)]), 4),
        ];
        int[] rowAdapters = [0, 1, 2, 3, 3, 1];
        int n = rowAdapters.Length;
        var x = Values(n * Inputs);

        var m = CudaLowRank.Layout(parts)!;
        Assert.Equal((2 + 3 + 1) + (2 + 2), m.Rank);
        Assert.Equal([0, 0, 1, 1, 1, 3, 2, 2, 3, 3], m.Groups);
        var actual = new float[n * m.Outputs];
        for (int r = 0; r < n; r++)
        {
            var low = new float[m.Rank];
            for (int c = 0; c < m.Rank; c++)
                if (m.Groups[c] == 0 || m.Groups[c] == rowAdapters[r])
                    for (int k = 0; k < Inputs; k++) low[c] += x[r * Inputs + k] * m.A[c * Inputs + k];
            for (int o = 0; o < m.Outputs; o++)
                for (int c = 0; c < m.Rank; c++) actual[r * m.Outputs + o] += low[c] * m.B[o * m.Rank + c];
        }

        var spans = rowAdapters.Select((a, r) => new AdapterSpan(r, 1, a)).Where(s => s.Adapter != 0).ToArray();
        var expected = new float[n * m.Outputs];
        int first = 0;
        foreach (var (deltas, rows) in parts)
        {
            var y = new float[n * rows];
            deltas?.Add(x, n, y, spans);
            for (int r = 0; r < n; r++) y.AsSpan(r * rows, rows).CopyTo(expected.AsSpan(r * m.Outputs + first));
            first += rows;
        }
        Tolerance.AssertClose(expected, actual, 1e-5, "the stacked, masked product against AdapterDeltas");
        Assert.Contains(expected, v => Math.Abs(v) > 0.1f);
    }

    [Fact]
    public void OneAdapterForEveryRowNeedsNoMask()
    {
        var m = CudaLowRank.Layout((new AdapterDeltas(Delta(2, 3), []), 3), (new AdapterDeltas(Delta(4, 2), []), 2))!;
        Assert.All(m.Groups, g => Assert.Equal(0, g));
        Assert.Equal(6, m.Rank);
        Assert.Null(CudaLowRank.Layout((null, 3), (new AdapterDeltas(null, [null]), 2)));
    }
}

namespace Bamba.Backends.Cpu;

/// <summary>
/// How the integer prefills (<see cref="KQuantGemm"/>, <see cref="Q8_0Gemm"/>) split <c>y[n, m]</c> into chunks for
/// <see cref="CpuWorkers"/>: <see cref="RowBlock"/> weight rows, unpacked once per chunk, × a block of input rows
/// (<see cref="ColumnBlock"/>) whose quantized bytes stay in L2 while the weight rows pass over them.
/// </summary>
internal readonly record struct PrefillChunks(int N, int M, int ColumnBlock)
{
    /// <summary>Weight rows unpacked per chunk: 16 rows of k = 4096 take 72–88 KiB, which stay in L2 while they are used.</summary>
    public const int RowBlock = 16;
    /// <summary>Quantized input bytes per chunk at most, so that a chunk's inputs stay in L2 (1 MiB on Zen 4).</summary>
    private const int ColumnBytes = 512 << 10;

    /// <summary>
    /// The chunks for <paramref name="n"/> input rows of <paramref name="rowBytes"/> quantized bytes each and
    /// <paramref name="m"/> weight rows: input blocks of equal size, in whole tiles of <paramref name="tile"/> rows.
    /// </summary>
    public static PrefillChunks For(int n, int m, long rowBytes, int tile)
    {
        int most = (int)Math.Max(tile, ColumnBytes / rowBytes / tile * tile);
        int blocks = (n + most - 1) / most;
        int perBlock = (n + blocks - 1) / blocks;
        return new PrefillChunks(n, m, (perBlock + tile - 1) / tile * tile);
    }

    public int Count => RowBlocks * ((N + ColumnBlock - 1) / ColumnBlock);

    private int RowBlocks => (M + RowBlock - 1) / RowBlock;

    /// <summary>Chunk <paramref name="chunk"/>'s first weight row and row count, first input row and input count.</summary>
    public (int R0, int Rows, int C0, int Cols) this[int chunk]
    {
        get
        {
            int r0 = chunk % RowBlocks * RowBlock, c0 = chunk / RowBlocks * ColumnBlock;
            return (r0, Math.Min(RowBlock, M - r0), c0, Math.Min(ColumnBlock, N - c0));
        }
    }
}

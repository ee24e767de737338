using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Rows of 32-value int8 blocks, each with a float scale, laid out for the Q8_0 prefill tiles (<see cref="Q8_0Tiles"/>):
/// blocks go in groups of <see cref="GroupBlocks"/>, and a group is 8 vectors of 32 bytes, vector t holding bytes
/// 4t .. 4t + 3 of block 0, then of block 1, ... of block 7. A multiply-add of 4 adjacent bytes into each 32-bit lane
/// (vpdpbusd, or vpmaddubsw + vpmaddwd) then keeps lane j on block j: after the 8 vectors each lane holds one block's
/// whole integer dot, so its scale is applied once per block and lane, not once per 4 lanes as in a block-by-block
/// dot. Blocks past the row's end pad the last group: zero values (stored as <see cref="PadByte"/>), scale 0.
/// </summary>
internal readonly unsafe struct Q8_0Interleaved(byte* q, float* d, int groups, byte padByte)
{
    public const int Block = 32, GroupBlocks = 8, GroupBytes = Block * GroupBlocks;

    /// <summary>The bytes, <see cref="GroupBytes"/> per group.</summary>
    public readonly byte* Q = q;
    /// <summary>One scale per block, <see cref="GroupBlocks"/> per group (0 for the padding).</summary>
    public readonly float* D = d;
    public readonly int Groups = groups;
    /// <summary>How a zero value is stored: 0 for weights (signed bytes), 128 for inputs (biased, q + 128).</summary>
    public readonly byte PadByte = padByte;

    public static int GroupsOf(int k) => (k / Block + GroupBlocks - 1) / GroupBlocks;

    /// <summary>
    /// <paramref name="rows"/> rows of <paramref name="k"/> values in a thread's buffers (its [ThreadStatic] fields
    /// <paramref name="q"/> and <paramref name="d"/>, grown when too small), valid until that thread's next call.
    /// </summary>
    public static Q8_0Interleaved Rent(ref byte[]? q, ref float[]? d, int rows, int k, byte padByte)
    {
        int groups = GroupsOf(k);
        return new Q8_0Interleaved(ThreadBuffers.Get(ref q, checked(rows * groups * GroupBytes)),
            ThreadBuffers.Get(ref d, checked(rows * groups * GroupBlocks)), groups, padByte);
    }

    /// <summary>Row <paramref name="i"/> of rows laid out one after another from this one.</summary>
    public Q8_0Interleaved Row(int i) => new(Q + (long)i * Groups * GroupBytes, D + (long)i * Groups * GroupBlocks, Groups, PadByte);

    /// <summary>
    /// Group <paramref name="g"/> from <paramref name="blocks"/>: <paramref name="count"/> blocks of 32 bytes one after
    /// another (the rest of the group is padding), their scales already in <see cref="D"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // not inlined into its callers: left to tiering it ran unoptimized
    public void Store(int g, byte* blocks, int count, bool vector)
    {
        byte* group = Q + (long)g * GroupBytes;
        if (count < GroupBlocks)
        {
            new Span<byte>(blocks + count * Block, (GroupBlocks - count) * Block).Fill(PadByte);
            new Span<float>(D + g * GroupBlocks + count, GroupBlocks - count).Clear();
        }
        if (vector) Transpose8((int*)blocks, (int*)group);
        else
            for (int j = 0; j < GroupBlocks; j++)
                for (int t = 0; t < GroupBlocks; t++) ((int*)group)[t * GroupBlocks + j] = ((int*)blocks)[j * GroupBlocks + t];
    }

    /// <summary>
    /// An 8 × 8 transpose of 32-bit words (row j: block j's 8 words), in registers: pairs of rows interleaved by
    /// word, then by pairs of words, leave each 128-bit half with 4 blocks' word t (low half) and t + 4 (high half);
    /// the halves of blocks 0-3 and 4-7 then join.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(int* src, int* dst)
    {
        Vector256<int> r0 = Vector256.Load(src), r1 = Vector256.Load(src + 8), r2 = Vector256.Load(src + 16), r3 = Vector256.Load(src + 24);
        Vector256<int> r4 = Vector256.Load(src + 32), r5 = Vector256.Load(src + 40), r6 = Vector256.Load(src + 48), r7 = Vector256.Load(src + 56);
        var (u0, u1, u2, u3) = FourBlocks(r0, r1, r2, r3);
        var (u4, u5, u6, u7) = FourBlocks(r4, r5, r6, r7);
        Avx2.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx2.Permute2x128(u1, u5, 0x20).Store(dst + 8);
        Avx2.Permute2x128(u2, u6, 0x20).Store(dst + 16);
        Avx2.Permute2x128(u3, u7, 0x20).Store(dst + 24);
        Avx2.Permute2x128(u0, u4, 0x31).Store(dst + 32);
        Avx2.Permute2x128(u1, u5, 0x31).Store(dst + 40);
        Avx2.Permute2x128(u2, u6, 0x31).Store(dst + 48);
        Avx2.Permute2x128(u3, u7, 0x31).Store(dst + 56);
    }

    /// <summary>Rows a-d regrouped: result t holds word t of the four rows in its low half, word t + 4 in its high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<int>, Vector256<int>, Vector256<int>, Vector256<int>) FourBlocks(
        Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        Vector256<long> lo01 = Avx2.UnpackLow(a, b).AsInt64(), hi01 = Avx2.UnpackHigh(a, b).AsInt64();
        Vector256<long> lo23 = Avx2.UnpackLow(c, d).AsInt64(), hi23 = Avx2.UnpackHigh(c, d).AsInt64();
        return (Avx2.UnpackLow(lo01, lo23).AsInt32(), Avx2.UnpackHigh(lo01, lo23).AsInt32(),
            Avx2.UnpackLow(hi01, hi23).AsInt32(), Avx2.UnpackHigh(hi01, hi23).AsInt32());
    }
}

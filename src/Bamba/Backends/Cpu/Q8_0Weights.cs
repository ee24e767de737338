using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Q8_0 or Q4_0 weight rows unpacked for the Q8_0 prefill tiles: their values as signed bytes (Q4_0's nibbles less 8)
/// in the layout of <see cref="Q8_0Interleaved"/>, their fp16 scales as float32, and per block
/// <see cref="Corrections"/> = −128·Σq. The tiles multiply biased inputs (q_a + 128) with these, so the integer
/// dot comes out Σ q_a·q_w + 128·Σ q_w; starting the sum at the correction leaves exactly Σ q_a·q_w.
/// </summary>
internal readonly unsafe struct Q8_0Weights(Q8_0Interleaved rows, int* corrections)
{
    public const int Q8Bytes = 34, Q4Bytes = 18;

    public readonly Q8_0Interleaved Rows = rows;
    /// <summary>−128·Σq per block, <see cref="Q8_0Interleaved.GroupBlocks"/> per group (0 for the padding).</summary>
    public readonly int* Corrections = corrections;

    public static bool Supports(DType t) => t is DType.Q8_0 or DType.Q4_0;

    /// <summary>Row <paramref name="i"/> of rows laid out one after another from this one.</summary>
    public Q8_0Weights Row(int i) => new(Rows.Row(i), Corrections + (long)i * Rows.Groups * Q8_0Interleaved.GroupBlocks);

    /// <summary>Unpacks the stored row of <paramref name="k"/> values at <paramref name="row"/> into this one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Unpack(DType t, byte* row, int k, bool vector)
    {
        int blocks = k / Q8_0Interleaved.Block, stride = t == DType.Q8_0 ? Q8Bytes : Q4Bytes;
        byte* staged = stackalloc byte[Q8_0Interleaved.GroupBytes];
        for (int g = 0; g < Rows.Groups; g++)
        {
            int first = g * Q8_0Interleaved.GroupBlocks, count = Math.Min(Q8_0Interleaved.GroupBlocks, blocks - first);
            for (int j = 0; j < count; j++)
            {
                byte* block = row + (long)(first + j) * stride;
                sbyte* q = (sbyte*)staged + j * Q8_0Interleaved.Block;
                Rows.D[first + j] = Float16.ToSingle(*(ushort*)block);
                if (t == DType.Q8_0) Unsafe.CopyBlockUnaligned(q, block + 2, Q8_0Interleaved.Block);
                else if (vector) Q4Values256(block + 2).Store(q);
                else Q4Values(block + 2, q);
                if (!vector) Corrections[first + j] = -128 * Sum(q);
            }
            if (!vector) for (int j = count; j < Q8_0Interleaved.GroupBlocks; j++) Corrections[first + j] = 0;
            Rows.Store(g, staged, count, vector);
            if (vector) Corrections256(g);
        }
    }

    /// <summary>Group <paramref name="g"/>'s corrections from its stored vectors: lane j of each holds 4 bytes of
    /// block j, so two multiply-adds by ones per vector sum each block in its own lane (padding sums to 0).</summary>
    private void Corrections256(int g)
    {
        sbyte* group = (sbyte*)Rows.Q + (long)g * Q8_0Interleaved.GroupBytes;
        Vector256<byte> ones = Vector256.Create((byte)1);
        Vector256<short> pairs = Vector256.Create((short)1);
        var sum = Vector256<int>.Zero;
        for (int t = 0; t < Q8_0Interleaved.GroupBytes; t += 32) // |two bytes| ≤ 256: no 16-bit saturation
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, Vector256.Load(group + t)), pairs);
        (sum * -128).Store(Corrections + g * Q8_0Interleaved.GroupBlocks);
    }

    /// <summary>block_q4_0's 16 bytes: low nibbles are values 0..15, high nibbles 16..31, each less 8.</summary>
    private static void Q4Values(byte* nibbles, sbyte* q)
    {
        for (int j = 0; j < 16; j++)
        {
            q[j] = (sbyte)((nibbles[j] & 0xF) - 8);
            q[j + 16] = (sbyte)((nibbles[j] >> 4) - 8);
        }
    }

    private static Vector256<sbyte> Q4Values256(byte* nibbles)
    {
        var b = Vector128.Load(nibbles);
        return Vector256.Create(b & Vector128.Create((byte)0xF), Vector128.ShiftRightLogical(b, 4)).AsSByte() - Vector256.Create((sbyte)8);
    }

    private static int Sum(sbyte* q)
    {
        int sum = 0;
        for (int j = 0; j < Q8_0Interleaved.Block; j++) sum += q[j];
        return sum;
    }
}

/// <summary>Per-thread room for <see cref="Q8_0Weights"/> rows, grown to the largest request and kept.</summary>
internal static unsafe class Q8_0WeightBuffers
{
    [ThreadStatic] private static byte[]? _q;
    [ThreadStatic] private static float[]? _d;
    [ThreadStatic] private static int[]? _corrections;

    /// <summary>Room for <paramref name="rows"/> rows of <paramref name="k"/> values; valid until this thread's next call.</summary>
    public static Q8_0Weights Rent(int rows, int k)
    {
        var blocks = Q8_0Interleaved.Rent(ref _q, ref _d, rows, k, padByte: 0);
        int* corrections = ThreadBuffers.Get(ref _corrections, checked(rows * blocks.Groups * Q8_0Interleaved.GroupBlocks));
        return new Q8_0Weights(blocks, corrections);
    }
}

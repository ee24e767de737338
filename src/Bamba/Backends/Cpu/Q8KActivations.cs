using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Bamba.Weights.Quants;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Input rows quantized to llama.cpp's Q8_K blocks of 256 (quantize_row_q8_K_ref: d = max/−127 as float32,
/// q = min(127, nearest(x/d)), and the sum of every 16 q's), the form the K-quant dot products of
/// <see cref="KQuantDot"/> multiply in integers.
/// </summary>
internal readonly unsafe struct Q8KRow(sbyte* q, float* d, short* sums)
{
    public const int Block = 256, SumsPerBlock = 16;

    /// <summary>The quantized values, 256 per block.</summary>
    public readonly sbyte* Q = q;
    /// <summary>One scale per block.</summary>
    public readonly float* D = d;
    /// <summary>Σ q over each 16 values, 16 per block (the K-quants' minimums and Q6_K's offset multiply these).</summary>
    public readonly short* Sums = sums;

    /// <summary>Row <paramref name="i"/> of rows of <paramref name="k"/> values laid out one after another from this one (<see cref="Q8KBuffers.Rent(int, int)"/>).</summary>
    public Q8KRow Offset(int i, int k) =>
        new(Q + (long)i * k, D + (long)i * (k / Block), Sums + (long)i * (k / Block) * SumsPerBlock);

    /// <summary>Quantizes <paramref name="k"/> values: with 256-bit vectors where <paramref name="set"/> has them, the
    /// scalar reference's bytes, scales and sums bit for bit either way.</summary>
    public static void Quantize(float* x, int k, Q8KRow y, CpuInstructionSet set)
    {
        if (set == CpuInstructionSet.Scalar) Quantize(x, k, y);
        else
            for (int b = 0; b < k / Block; b++)
                QuantizeBlock256(x + b * Block, y.Q + b * Block, y.D + b, y.Sums + b * SumsPerBlock);
    }

    /// <summary>The scalar reference, as quantize_row_q8_K_ref.</summary>
    public static void Quantize(float* x, int k, Q8KRow y)
    {
        for (int b = 0; b < k / Block; b++) QuantizeBlock(x + b * Block, y.Q + b * Block, y.D + b, y.Sums + b * SumsPerBlock);
    }

    private static void QuantizeBlock(float* x, sbyte* q, float* d, short* sums)
    {
        float max = 0, amax = 0;
        for (int j = 0; j < Block; j++)
            if (MathF.Abs(x[j]) > amax) { amax = MathF.Abs(x[j]); max = x[j]; }
        if (amax == 0)
        {
            new Span<sbyte>(q, Block).Clear();
            new Span<short>(sums, SumsPerBlock).Clear();
            *d = 0;
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < Block; j++) q[j] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * x[j]));
        for (int s = 0; s < SumsPerBlock; s++)
        {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += q[16 * s + j];
            sums[s] = (short)sum;
        }
        *d = 1 / iscale;
    }

    /// <summary>
    /// <see cref="QuantizeBlock"/> with 8 values per instruction: the same float multiply and the same rounding (the
    /// add of 1.5·2²³ whose low mantissa bits are the nearest integer, as <see cref="QuantMath.NearestInt"/>), so the
    /// same bytes; the signed maximum is the first value of the largest magnitude, as the scalar loop keeps it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // prefill may be the process's only call
    private static void QuantizeBlock256(float* x, sbyte* q, float* d, short* sums)
    {
        var magnitude = Vector256<float>.Zero;
        for (int j = 0; j < Block; j += 8) magnitude = Vector256.Max(magnitude, Vector256.Abs(Vector256.Load(x + j)));
        var half = Vector128.Max(magnitude.GetLower(), magnitude.GetUpper());
        float amax = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
        if (amax == 0 || !float.IsFinite(amax))
        {
            QuantizeBlock(x, q, d, sums); // all zero, or a NaN or infinity the scalar loop's comparisons decide
            return;
        }
        int first = 0;
        for (var target = Vector256.Create(amax); ; first += 8)
        {
            uint hits = Vector256.Equals(Vector256.Abs(Vector256.Load(x + first)), target).ExtractMostSignificantBits();
            if (hits != 0) { first += System.Numerics.BitOperations.TrailingZeroCount(hits); break; }
        }
        float iscale = -127f / x[first];
        var scale = Vector256.Create(iscale);
        for (int s = 0; s < SumsPerBlock; s++)
        {
            var a = NearestInt(Vector256.Load(x + 16 * s) * scale);
            var b = NearestInt(Vector256.Load(x + 16 * s + 8) * scale);
            sums[s] = (short)Vector256.Sum(a + b);
            var bytes = Vector256.Narrow(Vector256.Narrow(a, b), Vector256<short>.Zero);
            bytes.GetLower().Store(q + 16 * s);
        }
        *d = 1 / iscale;
    }

    /// <summary>min(127, <see cref="QuantMath.NearestInt"/>(v)) per lane.</summary>
    private static Vector256<int> NearestInt(Vector256<float> v)
    {
        var bits = (v + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007fffff);
        return Vector256.Min(bits - Vector256.Create(0x00400000), Vector256.Create(127));
    }
}

/// <summary>
/// A per-thread home for <see cref="Q8KRow"/>s: grown to the largest request and kept (pinned), so decode quantizes
/// its activations without allocating per token.
/// </summary>
internal static unsafe class Q8KBuffers
{
    [ThreadStatic] private static sbyte[]? _q;
    [ThreadStatic] private static float[]? _d;
    [ThreadStatic] private static short[]? _sums;

    /// <summary>Room for <paramref name="n"/> rows of <paramref name="k"/> values; valid until this thread's next call.</summary>
    public static void Rent(int n, int k, Q8KRow* rows)
    {
        var first = Rent(n, k);
        for (int i = 0; i < n; i++) rows[i] = first.Offset(i, k);
    }

    /// <summary>Room for <paramref name="n"/> rows of <paramref name="k"/> values, the first returned, the others at
    /// <see cref="Q8KRow.Offset"/>; valid until this thread's next call.</summary>
    public static Q8KRow Rent(int n, int k)
    {
        int blocks = k / Q8KRow.Block;
        if (_q is null || _q.Length < (long)n * k) _q = GC.AllocateArray<sbyte>(checked(n * k), pinned: true);
        if (_d is null || _d.Length < n * blocks) _d = GC.AllocateArray<float>(n * blocks, pinned: true);
        if (_sums is null || _sums.Length < n * blocks * Q8KRow.SumsPerBlock)
            _sums = GC.AllocateArray<short>(n * blocks * Q8KRow.SumsPerBlock, pinned: true);
        // Pinned arrays never move, so their addresses outlive this frame.
        fixed (sbyte* q = _q) fixed (float* d = _d) fixed (short* s = _sums)
            return new Q8KRow(q, d, s);
    }
}

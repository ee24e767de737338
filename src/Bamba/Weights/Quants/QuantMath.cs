using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bamba.Weights.Quants;

/// <summary>
/// The scale searches of llama.cpp's reference quantizers (ggml-quants.c: <c>nearest_int</c>, <c>make_qx_quants</c>,
/// <c>make_qkx2_quants</c>, <c>get_scale_min_k4</c>), ported line for line so the same inputs pick the same levels.
/// </summary>
internal static class QuantMath
{
    private const float GroupMaxEps = 1e-15f;

    /// <summary>Round to nearest, ties to even, by the float magic-number trick (valid for |x| ≤ 4194303).</summary>
    public static int NearestInt(float x)
    {
        float v = x + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    /// <summary>Symmetric levels in [-nmax, nmax) with the weighted least-squares scale (rmse_type 1: weights x²).</summary>
    public static float MakeQxQuants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> levels)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps) { levels[..n].Clear(); return 0f; }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            levels[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++) levels[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>Levels in [0, nmax] with a scale and a (negated) minimum, searched over <paramref name="steps"/> trial scales.</summary>
    public static float MakeQkx2Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> levels,
        out float theMin, float rmin, float rdelta, int steps)
    {
        Span<byte> aux = stackalloc byte[n];
        float min = x[0], max = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            sumW += weights[i];
            sumX += weights[i] * x[i];
        }
        if (min > 0) min = 0;
        if (max == min) { levels[..n].Clear(); theMin = -min; return 0f; }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            levels[i] = (byte)Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
            float diff = scale * levels[i] + min - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                aux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0) continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0) { thisMin = 0; thisScale = sumXL / sumL2; }
            float error = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * aux[i] + thisMin - x[i];
                error += weights[i] * (diff * diff);
            }
            if (error < bestError)
            {
                aux[..n].CopyTo(levels);
                bestError = error;
                scale = thisScale;
                min = thisMin;
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>The 6-bit scale and minimum of sub-block <paramref name="j"/> from a K-quant's 12 packed scale bytes.</summary>
    public static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    /// <summary>
    /// The fp16 value at the start of <paramref name="b"/>, through a table of all 65 536 values (256 KiB, as llama.cpp's
    /// ggml_table_f32_f16), exactly what <c>(float)Half</c> gives. The quantized dots read one such scale per 32 to 256
    /// weights, and the runtime's conversion is a call unless dynamic PGO happens to inline it: without PGO, Q8_0 decode
    /// ran at half speed.
    /// </summary>
    public static float Half(ReadOnlySpan<byte> b) => HalfOf(BinaryPrimitives.ReadUInt16LittleEndian(b));

    /// <summary>The fp16 value stored at <paramref name="p"/> (2 bytes, any alignment): <see cref="Half(ReadOnlySpan{byte})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Half(byte* p) => HalfOf(Unsafe.ReadUnaligned<ushort>(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HalfOf(ushort bits) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(HalfTable), (nint)bits);

    private static readonly float[] HalfTable = BuildHalfTable();

    private static float[] BuildHalfTable()
    {
        var table = new float[1 << 16];
        for (int bits = 0; bits < table.Length; bits++) table[bits] = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
        return table;
    }

    public static void WriteHalf(Span<byte> b, float v) => BitConverter.TryWriteBytes(b, (Half)v);
}

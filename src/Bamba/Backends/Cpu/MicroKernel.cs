using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Bamba.Backends.Cpu;

/// <summary>
/// Register-blocked dot products for matrix products with many input rows: a 4 × 4 block of (input row, weight row)
/// pairs shares each load between four FMAs, where separate dot products would load both operands for every FMA.
/// </summary>
internal static unsafe class MicroKernel
{
    /// <summary><c>out[i, j] = x_i · w_j</c> for 4 input rows (stride <paramref name="xStride"/>) and 4 weight rows (stride k).</summary>
    public static void Dot4x4(float* x, long xStride, float* w, int k, Span<float> output)
    {
        int t = 0;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        float* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        float* w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k;
        for (; t + 16 <= k; t += 16)
        {
            var v0 = Vector512.Load(w0 + t); var v1 = Vector512.Load(w1 + t);
            var v2 = Vector512.Load(w2 + t); var v3 = Vector512.Load(w3 + t);
            var u = Vector512.Load(x0 + t);
            a00 = Fma(u, v0, a00); a01 = Fma(u, v1, a01); a02 = Fma(u, v2, a02); a03 = Fma(u, v3, a03);
            u = Vector512.Load(x1 + t);
            a10 = Fma(u, v0, a10); a11 = Fma(u, v1, a11); a12 = Fma(u, v2, a12); a13 = Fma(u, v3, a13);
            u = Vector512.Load(x2 + t);
            a20 = Fma(u, v0, a20); a21 = Fma(u, v1, a21); a22 = Fma(u, v2, a22); a23 = Fma(u, v3, a23);
            u = Vector512.Load(x3 + t);
            a30 = Fma(u, v0, a30); a31 = Fma(u, v1, a31); a32 = Fma(u, v2, a32); a33 = Fma(u, v3, a33);
        }
        output[0] = Vector512.Sum(a00); output[1] = Vector512.Sum(a01); output[2] = Vector512.Sum(a02); output[3] = Vector512.Sum(a03);
        output[4] = Vector512.Sum(a10); output[5] = Vector512.Sum(a11); output[6] = Vector512.Sum(a12); output[7] = Vector512.Sum(a13);
        output[8] = Vector512.Sum(a20); output[9] = Vector512.Sum(a21); output[10] = Vector512.Sum(a22); output[11] = Vector512.Sum(a23);
        output[12] = Vector512.Sum(a30); output[13] = Vector512.Sum(a31); output[14] = Vector512.Sum(a32); output[15] = Vector512.Sum(a33);
        for (; t < k; t++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    output[i * 4 + j] += x[i * xStride + t] * w[j * k + t];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
}

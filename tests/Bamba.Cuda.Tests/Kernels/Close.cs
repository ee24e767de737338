namespace Bamba.Cuda.Tests.Kernels;

/// <summary>max |gpu − cpu| ≤ tol · max(1, max |cpu|): the parity rule of the issues, applied per kernel.</summary>
public static class Close
{
    public static void Assert(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what) =>
        Tolerance.AssertClose(expected, actual, tol, what);

    /// <summary>Tolerance for a precision: float32 kernels agree to rounding; bf16 stores outputs with 8 mantissa bits.</summary>
    public static double For(Backends.Cuda.CudaOps ops, double f32 = 1e-5) => ops.Precision == Backends.Cuda.CudaPrecision.Float32 ? f32 : 1e-2;

    /// <summary>The cosine of two logit rows, in double: the bf16 checks' measure of agreement.</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}

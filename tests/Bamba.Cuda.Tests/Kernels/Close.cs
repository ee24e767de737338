namespace Bamba.Cuda.Tests.Kernels;

/// <summary>max |gpu − cpu| ≤ tol · max(1, max |cpu|): the parity rule of the issues, applied per kernel.</summary>
public static class Close
{
    public static void Assert(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double maxRef = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            double diff = Math.Abs(expected[i] - actual[i]);
            if (!(diff <= maxDiff)) { maxDiff = diff; worst = i; }
        }
        double bound = tol * Math.Max(1, maxRef);
        Xunit.Assert.True(maxDiff <= bound,
            $"{what}: max |diff| {maxDiff:E3} at {worst} (cpu {(worst >= 0 ? expected[worst] : 0)}, gpu {(worst >= 0 ? actual[worst] : 0)}) exceeds {bound:E3}");
    }

    /// <summary>Tolerance for a precision: float32 kernels agree to rounding; bf16 stores outputs with 8 mantissa bits.</summary>
    public static double For(Backends.Cuda.CudaOps ops, double f32 = 1e-5) => ops.Precision == Backends.Cuda.CudaPrecision.Float32 ? f32 : 1e-2;
}

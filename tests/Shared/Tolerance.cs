namespace Bamba.Tests.Modeling;

/// <summary>The parity rule of the issues: max |ours − ref| ≤ tol · max(1, max |ref|), over the compared elements.</summary>
public static class Tolerance
{
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxRef = 0, maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            double diff = Math.Abs(expected[i] - actual[i]);
            if (!(diff <= maxDiff)) { maxDiff = diff; worst = i; }
        }
        double bound = tol * Math.Max(1, maxRef);
        Assert.True(maxDiff <= bound,
            $"{what}: max |diff| {maxDiff:E3} at {worst} (ref {(worst >= 0 ? expected[worst] : 0)}, ours {(worst >= 0 ? actual[worst] : 0)}) exceeds {bound:E3}");
    }
}

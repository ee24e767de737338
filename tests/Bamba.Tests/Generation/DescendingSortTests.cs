using Bamba.Generation;

namespace Bamba.Tests.Generation;

public class DescendingSortTests
{
    /// <summary>Sizes on both sides of the radix threshold; spreads that tie on the radix passes' high bits or entirely.</summary>
    [Theory]
    [InlineData(0, "spread")]
    [InlineData(1, "spread")]
    [InlineData(1023, "spread")]
    [InlineData(1024, "spread")]
    [InlineData(128256, "spread")]
    [InlineData(5000, "near")]
    [InlineData(128256, "near")]
    [InlineData(5000, "ties")]
    [InlineData(5000, "zeros")]
    public void SortsAsAComparisonSortDoes(int n, string kind)
    {
        var values = Values(n, kind, new Random(n));
        var expected = values.OrderDescending().ToArray();
        new DescendingSort().Sort(values);
        Assert.Equal(expected, values);
    }

    [Theory]
    [InlineData(50, 1)]
    [InlineData(5000, 40)]
    [InlineData(5000, 4999)]
    [InlineData(128256, 1500)]
    public void LargestKeepsTheKLargestInOrder(int n, int k)
    {
        foreach (var kind in new[] { "spread", "ties", "near" })
        {
            var values = Values(n, kind, new Random(k));
            var expected = values.OrderDescending().Take(k).ToArray();
            Assert.Equal(expected, new DescendingSort().Largest(values, k).ToArray());
        }
    }

    /// <summary>Probability-like values: spread over many binades, a few distinct ones, ones within 2^-20 of each other, some zeros.</summary>
    private static double[] Values(int n, string kind, Random random) => Enumerable.Range(0, n).Select(_ => kind switch
    {
        "spread" => Math.Exp(-random.NextDouble() * 40),
        "ties" => random.Next(3) * 0.25,
        "near" => 0.5 + random.NextDouble() * 1e-6,
        "zeros" => random.Next(2) * random.NextDouble(),
        _ => throw new ArgumentException(kind),
    }).ToArray();
}

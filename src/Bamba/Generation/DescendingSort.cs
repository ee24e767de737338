namespace Bamba.Generation;

/// <summary>
/// Orders probabilities (non-negative doubles, no NaN) largest first, by value alone: equal values are interchangeable
/// in every sum, so the sampler sorts values and finds the drawn id afterwards. Holds its own scratch space, so an
/// instance serves one call at a time.
/// </summary>
internal sealed class DescendingSort
{
    /// <summary>
    /// Three radix passes of 11 bits sort on the key's top 33 bits (sign, exponent, 21 mantissa bits). Values equal
    /// there lie within 2^-21 of each other, which few of a model's probabilities do: those runs are sorted afterwards,
    /// a long one by three more passes on the low bits.
    /// </summary>
    private const int DigitBits = 11, Buckets = 1 << DigitBits, Passes = 3, HighFrom = 64 - Passes * DigitBits;
    /// <summary>Below this a comparison sort beats the radix sort's fixed cost (clearing and scanning its counters).</summary>
    private const int RadixFrom = 1024;

    private readonly int[] _counts = new int[Passes * Buckets];
    private double[] _spare = [];

    /// <summary>Sorts in place, largest first: about 1 ms for 128k values, where Array.Sort takes about 10.</summary>
    public void Sort(Span<double> values)
    {
        if (values.Length < RadixFrom)
        {
            SortByComparison(values);
            return;
        }
        SortByBits(values, HighFrom);
        for (int start = 0, end; start < values.Length; start = end)
        {
            ulong high = Key(values[start]) >> HighFrom;
            for (end = start + 1; end < values.Length && Key(values[end]) >> HighFrom == high; end++) { }
            var run = values[start..end];
            if (run.Length >= RadixFrom) SortByBits(run, 0);
            else if (run.Length > 1) SortByComparison(run);
        }
    }

    /// <summary>
    /// The <paramref name="k"/> largest values moved to the front of <paramref name="values"/>, largest first, and
    /// returned: a min-heap of the best k so far, O(n log k), then a sort of those k.
    /// </summary>
    public Span<double> Largest(Span<double> values, int k)
    {
        var heap = values[..k];
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        foreach (double v in values[k..])
            if (v > heap[0])
            {
                heap[0] = v;
                SiftDown(heap, 0);
            }
        Sort(heap);
        return heap;
    }

    private static void SiftDown(Span<double> heap, int i)
    {
        double v = heap[i];
        for (int child = 2 * i + 1; child < heap.Length; i = child, child = 2 * i + 1)
        {
            if (child + 1 < heap.Length && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= v) break;
            heap[i] = heap[child];
        }
        heap[i] = v;
    }

    private static void SortByComparison(Span<double> values)
    {
        values.Sort();
        values.Reverse();
    }

    /// <summary>A least-significant-digit radix sort on the key's bits from <paramref name="low"/> up.</summary>
    private void SortByBits(Span<double> values, int low)
    {
        if (_spare.Length < values.Length) _spare = new double[values.Length];
        Count(values, low);
        Span<double> from = values, to = _spare.AsSpan(0, values.Length);
        for (int pass = 0; pass < Passes; pass++)
        {
            var counts = _counts.AsSpan(pass * Buckets, Buckets);
            if (counts.Contains(values.Length)) continue; // one digit for all: the pass would move nothing
            Scatter(from, to, counts, low + pass * DigitBits);
            var sorted = to;
            to = from;
            from = sorted;
        }
        if (from != values) from.CopyTo(values);
    }

    /// <summary>Every pass's digit counts in one read of the values.</summary>
    private void Count(ReadOnlySpan<double> values, int low)
    {
        Array.Clear(_counts);
        foreach (double v in values)
        {
            ulong key = Key(v);
            for (int pass = 0; pass < Passes; pass++) _counts[pass * Buckets + Digit(key, low + pass * DigitBits)]++;
        }
    }

    /// <summary>One pass: turns the counts into bucket starts and moves each value to its bucket, keeping their order.</summary>
    private static void Scatter(ReadOnlySpan<double> from, Span<double> to, Span<int> counts, int shift)
    {
        int start = 0;
        foreach (ref int c in counts)
        {
            int n = c;
            c = start;
            start += n;
        }
        foreach (double v in from) to[counts[Digit(Key(v), shift)]++] = v;
    }

    /// <summary>Non-negative doubles order as their bit patterns do; complemented, the largest comes first.</summary>
    private static ulong Key(double v) => ~BitConverter.DoubleToUInt64Bits(v);

    private static int Digit(ulong key, int shift) => (int)(key >> shift) & (Buckets - 1);
}

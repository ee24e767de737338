namespace Bamba.Generation.Constraints;

/// <summary>A set of byte values (256 bits): what one terminal of a byte-level grammar accepts.</summary>
public readonly record struct ByteSet(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public bool Contains(byte b) => ((b >> 6) switch { 0 => W0, 1 => W1, 2 => W2, _ => W3 } >> (b & 63) & 1) != 0;

    public static ByteSet Of(byte b) => Range(b, b);

    /// <summary>Bytes <paramref name="low"/>..<paramref name="high"/>, both included.</summary>
    public static ByteSet Range(int low, int high)
    {
        Span<ulong> w = stackalloc ulong[4];
        for (int b = low; b <= high; b++) w[b >> 6] |= 1UL << (b & 63);
        return new ByteSet(w[0], w[1], w[2], w[3]);
    }

    /// <summary>Each character of <paramref name="chars"/> (ASCII only).</summary>
    public static ByteSet Chars(string chars)
    {
        var set = default(ByteSet);
        foreach (char c in chars) set |= Of(checked((byte)c));
        return set;
    }

    public static ByteSet operator |(ByteSet a, ByteSet b) => new(a.W0 | b.W0, a.W1 | b.W1, a.W2 | b.W2, a.W3 | b.W3);
    public static ByteSet operator -(ByteSet a, ByteSet b) => new(a.W0 & ~b.W0, a.W1 & ~b.W1, a.W2 & ~b.W2, a.W3 & ~b.W3);
}

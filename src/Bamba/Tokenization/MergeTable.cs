using System.Numerics;
using System.Runtime.CompilerServices;

namespace Bamba.Tokenization;

/// <summary>
/// The BPE merge map, (left id, right id) → (rank, merged id), as an open-addressing table. Lookups run once per
/// adjacent pair on every new word; a flat table with linear probing is several times cheaper than a Dictionary.
/// Built once, then read-only (safe to share between threads).
/// </summary>
internal sealed class MergeTable
{
    private const long Empty = -1;
    private readonly long[] _keys;
    private readonly long[] _values;
    private readonly int _mask;

    public MergeTable(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _keys = new long[size];
        _values = new long[size];
        Array.Fill(_keys, Empty);
        _mask = size - 1;
    }

    public static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Sets the value of a pair; a repeated pair keeps the last value, like a Rust HashMap built from a list.</summary>
    public void Set(int left, int right, int rank, int merged)
    {
        long key = Key(left, right);
        int i = Slot(key);
        while (_keys[i] != Empty && _keys[i] != key) i = (i + 1) & _mask;
        _keys[i] = key;
        _values[i] = ((long)rank << 32) | (uint)merged;
    }

    /// <summary>The pair's (rank &lt;&lt; 32 | merged id); comparing values compares ranks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out long value)
    {
        long key = Key(left, right);
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            long k = _keys[i];
            if (k == key) { value = _values[i]; return true; }
            if (k == Empty) { value = 0; return false; }
        }
    }

    private int Slot(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> 40) & _mask;
}

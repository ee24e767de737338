namespace Bamba.Backends.Cuda;

/// <summary>
/// Which slot of a device-resident table holds each grammar token mask, so that a batched constrained step uploads
/// only the masks the device has not seen (a new grammar state) instead of every row's mask every step: 64 rows of a
/// 128k vocabulary are 1 MB a step, while a schema's states number in the hundreds or thousands and recur.
/// Masks are keyed by the array (a grammar's cached per-state mask, never changed once made: see
/// <see cref="Generation.IDeviceSampling"/>); the least recently used slot is reused, never one the current step holds.
/// </summary>
internal sealed class MaskSlots
{
    private readonly Dictionary<ulong[], int> _slotOf = new(ReferenceEqualityComparer.Instance);
    private readonly ulong[]?[] _maskIn;
    private readonly long[] _lastUsed;
    private int _filled;
    private long _step;

    public MaskSlots(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _maskIn = new ulong[]?[capacity];
        _lastUsed = new long[capacity];
    }

    public int Capacity => _maskIn.Length;

    /// <summary>
    /// Places one step's masks: each row's slot (−1 for an unconstrained row) and the masks to copy into their slots
    /// before the step. More distinct masks than slots in one step is the caller's error (it sizes the table).
    /// </summary>
    public (int[] SlotOfRow, List<(int Slot, ulong[] Mask)> Missing) Place(IReadOnlyList<ulong[]?> masks)
    {
        _step++;
        var slotOfRow = new int[masks.Count];
        var missing = new List<(int, ulong[])>();
        for (int row = 0; row < masks.Count; row++)
        {
            if (masks[row] is not { } mask) { slotOfRow[row] = -1; continue; }
            if (!_slotOf.TryGetValue(mask, out int slot))
            {
                slot = FreeSlot();
                _slotOf[mask] = slot;
                _maskIn[slot] = mask;
                missing.Add((slot, mask));
            }
            _lastUsed[slot] = _step;
            slotOfRow[row] = slot;
        }
        return (slotOfRow, missing);
    }

    /// <summary>A never-used slot, else the least recently used one that this step does not hold.</summary>
    private int FreeSlot()
    {
        if (_filled < Capacity) return _filled++;
        int oldest = -1;
        for (int s = 0; s < Capacity; s++)
            if (_lastUsed[s] < _step && (oldest < 0 || _lastUsed[s] < _lastUsed[oldest])) oldest = s;
        if (oldest < 0) throw new InvalidOperationException($"more distinct token masks in one step than the {Capacity} slots");
        _slotOf.Remove(_maskIn[oldest]!);
        return oldest;
    }
}

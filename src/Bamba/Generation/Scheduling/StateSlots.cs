namespace Bamba.Generation.Scheduling;

/// <summary>
/// A fixed number of per-sequence state slots (the Mamba conv window + SSM state and the attention KV of one
/// sequence each). A slot's state is created when a sequence is admitted and freed when it leaves, so the memory
/// held is bounded by the slot count whatever the traffic.
/// </summary>
internal sealed class StateSlots(ISequenceModel model, int capacity)
{
    private readonly SequenceState?[] _states = new SequenceState?[capacity];
    private readonly Stack<int> _free = new(Enumerable.Range(0, capacity).Reverse());

    public int Capacity => capacity;
    public int InUse => capacity - _free.Count;
    public bool HasFree => _free.Count > 0;

    public int Acquire(out SequenceState state)
    {
        var created = model.CreateState(); // first, so a failure leaves the slot free
        int slot = _free.Pop();
        state = _states[slot] = created;
        return slot;
    }

    public void Release(int slot)
    {
        _states[slot]?.Dispose();
        _states[slot] = null;
        _free.Push(slot);
    }

    /// <summary>Bytes held by the states in use, where the backend reports them.</summary>
    public long Bytes() => _states.Sum(s => s?.Bytes ?? 0L);
}

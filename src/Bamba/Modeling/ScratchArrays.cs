namespace Bamba.Modeling;

/// <summary>
/// Per-thread float arrays that the CPU forward pass reuses for its per-layer temporaries (projections, conv and scan
/// outputs, MLP activations). Allocated fresh in every layer (about 6 MB a layer in a 128-token prefill), they were
/// new pages each time: the kernel faulted in and zeroed some 23 000 pages per prefill, 14 % of its profile samples.
/// An array comes back cleared and exactly the length asked; it stays valid until the same purpose is asked for again
/// on the same thread, so a purpose is never held across a call that asks for it.
/// </summary>
internal static class ScratchArrays
{
    /// <summary>Larger arrays (very long prompts) are allocated each time rather than kept: 64 MiB.</summary>
    private const int MaxKeptFloats = 16 << 20;

    [ThreadStatic] private static Dictionary<string, float[]>? _arrays;

    public static float[] Get(string purpose, int length)
    {
        if (length > MaxKeptFloats) return new float[length];
        var arrays = _arrays ??= [];
        if (arrays.TryGetValue(purpose, out var kept) && kept.Length == length)
        {
            Array.Clear(kept);
            return kept;
        }
        var array = new float[length];
        arrays[purpose] = array;
        return array;
    }
}

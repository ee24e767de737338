namespace Bamba.Modeling;

/// <summary>
/// The LoRA deltas beside one matrix: the model's own adapter (<c>--lora DIR</c>), which every row gets, and the
/// adapters sequences pick (<c>--lora NAME=DIR</c>), each applied to the rows of the sequences that picked it. A
/// picked adapter adds to the model's own, as a second adapter on the adapted model would.
/// </summary>
public sealed class AdapterDeltas(LowRankDelta? shared, LowRankDelta?[] picked)
{
    /// <summary>The adapter every row gets; null when there is none.</summary>
    public LowRankDelta? Shared => shared;

    /// <summary>How many adapters sequences may pick (<see cref="Picked"/> takes 1 to this).</summary>
    public int PickedCount => picked.Length;

    /// <summary>The delta of adapter <paramref name="adapter"/> (1-based, as <see cref="Generation.SequenceState.Adapter"/>); null when it leaves this matrix alone.</summary>
    public LowRankDelta? Picked(int adapter) => adapter >= 1 && adapter <= picked.Length ? picked[adapter - 1] : null;

    /// <summary>
    /// Adds the deltas to <paramref name="y"/> [rows, out] for input <paramref name="x"/> [rows, in]: the shared one on
    /// every row, each picked one on its spans of rows only.
    /// </summary>
    public void Add(ReadOnlySpan<float> x, int rows, Span<float> y, IReadOnlyList<AdapterSpan> spans)
    {
        shared?.Add(x, rows, y);
        foreach (var span in spans)
            if (Picked(span.Adapter) is { } d)
                d.Add(x.Slice(span.Start * d.Inputs), span.Count, y.Slice(span.Start * d.Outputs));
    }

    /// <summary>The deltas of output rows [first, first + count) (one half of a fused gate|up matrix).</summary>
    public AdapterDeltas Rows(int first, int count) =>
        new(shared?.Rows(first, count), picked.Select(p => p?.Rows(first, count)).ToArray());
}

/// <summary>Rows [Start, Start + Count) of a forward pass run with adapter <see cref="Adapter"/> (≥ 1).</summary>
public readonly record struct AdapterSpan(int Start, int Count, int Adapter);

/// <summary>
/// The adapters a CPU model is loaded with: the one every sequence gets (null for none) and the ones a sequence may
/// pick by name, each a map from base weight name to its delta (<c>LoraFiles.ReadDeltas</c>).
/// </summary>
public sealed record ModelAdapters(IReadOnlyDictionary<string, LowRankDelta>? Shared, IReadOnlyList<NamedAdapter> Picked)
{
    public static readonly ModelAdapters None = new(null, []);

    public static ModelAdapters Only(IReadOnlyDictionary<string, LowRankDelta>? shared) => new(shared, []);

    /// <summary>The deltas beside one base weight; null when no adapter touches it.</summary>
    public AdapterDeltas? For(string weight)
    {
        var shared = Shared?.GetValueOrDefault(weight);
        var picked = Picked.Select(p => p.Deltas.GetValueOrDefault(weight)).ToArray();
        return shared is null && picked.All(p => p is null) ? null : new AdapterDeltas(shared, picked);
    }
}

/// <summary>An adapter sequences pick by <see cref="Name"/>.</summary>
public sealed record NamedAdapter(string Name, IReadOnlyDictionary<string, LowRankDelta> Deltas);

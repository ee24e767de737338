namespace Bamba.Backends.Cuda;

/// <summary>
/// Grammar token masks on the GPU sampling path: each constrained sequence's mask (the host's per-state bit mask,
/// vocab / 64 words, already computed and cached by its grammar) is applied to the logits where they are. A batched
/// step finds its masks in a device table (<see cref="MaskSlots"/>) and uploads only those the table lacks, plus each
/// row's slot; the batch-1 graph copies its one mask (16 KB for a 128k vocabulary) into a buffer of its own.
/// </summary>
public sealed partial class CudaModel
{
    /// <summary>Where one step's masks are on the device: the packed masks and each row's index among them (−1: none).</summary>
    private readonly record struct DeviceMasks(ulong Words, ulong MaskOfRow)
    {
        public bool Any => MaskOfRow != 0;
    }

    /// <summary>64-bit words of one token mask: the host's layout, read by the kernel as twice as many 32-bit words.</summary>
    private int MaskWords => (Config.VocabSize + 63) / 64;

    /// <summary>The batched steps' device table of masks (made on the first constrained step) and what each slot holds;
    /// used under the model's lock.</summary>
    private DeviceBuffer? _maskTable;
    private MaskSlots? _maskSlots;

    /// <summary>Slots of a new table: 32 MiB of masks (2048 of a 128k vocabulary), at least 256 and at most 4096; a test
    /// sets fewer to make slots change hands.</summary>
    internal int MaskTableSlots { get; set; }

    private int DefaultMaskSlots => MaskTableSlots > 0 ? MaskTableSlots : (int)Math.Clamp((32L << 20) / (8L * MaskWords), 256, 4096);

    private void CheckMasks(IReadOnlyList<ulong[]?>? allowed, int runs)
    {
        if (allowed is null) return;
        if (allowed.Count != runs) throw new ArgumentException($"{allowed.Count} token masks for {runs} sequences", nameof(allowed));
        foreach (var mask in allowed)
            if (mask is not null && mask.Length != MaskWords)
                throw new ArgumentException($"a token mask of {mask.Length} words; the vocabulary of {Config.VocabSize} takes {MaskWords}", nameof(allowed));
    }

    /// <summary>
    /// Puts a batched step's masks in the device table (uploading the ones it lacks) and uploads each row's slot (−1:
    /// unconstrained); nothing when no row is constrained.
    /// </summary>
    private DeviceMasks PlaceMasks(IReadOnlyList<ulong[]?>? allowed)
    {
        if (allowed is null || allowed.All(m => m is null)) return default;
        int constrained = allowed.Count(m => m is not null);
        if (_maskSlots is null || _maskSlots.Capacity < constrained) NewMaskTable(Math.Max(constrained, DefaultMaskSlots));
        var (slotOfRow, missing) = _maskSlots!.Place(allowed);
        ulong table = _maskTable!.Pointer, maskBytes = 8UL * (ulong)MaskWords;
        foreach (var (slot, mask) in missing) _ops.Device.Copy<ulong>(table + (ulong)slot * maskBytes, mask);
        return new DeviceMasks(table, Upload("sample.mask_of", slotOfRow));
    }

    private void NewMaskTable(int slots)
    {
        _maskTable?.Dispose(); // no kernel reads it now: every step ends by reading its tokens back
        _maskTable = _ops.Device.Allocate(8L * MaskWords * slots);
        _maskSlots = new MaskSlots(slots);
    }

    /// <summary>The batch-1 graph's mask in its own buffer (one mask's size, rewritten before each replay), as slot 0.</summary>
    private DeviceMasks UploadGraphMask(ulong[]? allowed) => allowed is null ? default
        : new DeviceMasks(Upload("graph.sample.masks", allowed), Upload("graph.sample.mask_of", new[] { 0 }));
}

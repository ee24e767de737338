namespace Bamba.Backends.Cuda;

/// <summary>
/// Grammar token masks on the GPU sampling path: each constrained sequence's mask (the host's per-state bit mask,
/// vocab / 64 words, already computed and cached by its grammar) is copied up before the step, about 12 KiB for a
/// 100k vocabulary against the 400 KB of one row of logits, and applied to the logits where they are.
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

    private void CheckMasks(IReadOnlyList<ulong[]?>? allowed, int runs)
    {
        if (allowed is null) return;
        if (allowed.Count != runs) throw new ArgumentException($"{allowed.Count} token masks for {runs} sequences", nameof(allowed));
        foreach (var mask in allowed)
            if (mask is not null && mask.Length != MaskWords)
                throw new ArgumentException($"a token mask of {mask.Length} words; the vocabulary of {Config.VocabSize} takes {MaskWords}", nameof(allowed));
    }

    /// <summary>Uploads the constrained rows' masks one after another and each row's index among them; nothing when none is constrained.</summary>
    private DeviceMasks UploadMasks(IReadOnlyList<ulong[]?>? allowed, string prefix = "")
    {
        if (allowed is null || allowed.All(m => m is null)) return default;
        int words = MaskWords, count = 0;
        var packed = new ulong[allowed.Count(m => m is not null) * words];
        var maskOfRow = new int[allowed.Count];
        for (int row = 0; row < allowed.Count; row++)
        {
            if (allowed[row] is not { } mask) { maskOfRow[row] = -1; continue; }
            mask.CopyTo(packed, count * words);
            maskOfRow[row] = count++;
        }
        return new DeviceMasks(Upload(prefix + "sample.masks", packed), Upload(prefix + "sample.mask_of", maskOfRow));
    }
}

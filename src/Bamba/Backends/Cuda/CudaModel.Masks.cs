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

    /// <summary>The step's masks packed for the copy, kept between steps (64 masks of a 128k vocabulary are 1 MB: a fresh
    /// array each step would be a large-object allocation every few milliseconds). Used under the model's lock.</summary>
    private ulong[] _packedMasks = [];

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
        int words = MaskWords, count = 0, needed = allowed.Count(m => m is not null) * words;
        if (_packedMasks.Length < needed) _packedMasks = new ulong[needed];
        var maskOfRow = new int[allowed.Count];
        for (int row = 0; row < allowed.Count; row++)
        {
            if (allowed[row] is not { } mask) { maskOfRow[row] = -1; continue; }
            mask.CopyTo(_packedMasks, count * words);
            maskOfRow[row] = count++;
        }
        return new DeviceMasks(Upload(prefix + "sample.masks", _packedMasks.AsSpan(0, needed)), Upload(prefix + "sample.mask_of", maskOfRow));
    }
}

namespace Bamba.Training;

/// <summary>
/// Sequences packed padding-free: sequence i occupies rows [Offset(i), Offset(i) + Length(i)), starts at position 0
/// with a fresh conv window and SSM state, and attends only to itself (as <c>position_ids</c> restarting at 0 do in
/// transformers). Labels follow the tokens (−100 = ignored); the shift happens inside each sequence, so the last
/// token of a sequence never predicts the first of the next.
/// </summary>
public sealed class TrainingBatch
{
    public const int IgnoreIndex = -100;

    public TrainingBatch(IReadOnlyList<int[]> sequences, IReadOnlyList<int[]>? labels = null)
    {
        if (sequences.Count == 0) throw new ArgumentException("a training batch needs at least one sequence");
        Offsets = new int[sequences.Count + 1];
        for (int i = 0; i < sequences.Count; i++)
        {
            if (sequences[i].Length == 0) throw new ArgumentException($"sequence {i} is empty");
            if (labels is not null && labels[i].Length != sequences[i].Length)
                throw new ArgumentException($"sequence {i}: labels and tokens differ in length");
            Offsets[i + 1] = Offsets[i] + sequences[i].Length;
        }
        Tokens = sequences.SelectMany(s => s).ToArray();
        Labels = (labels ?? sequences).SelectMany(s => s).ToArray();
    }

    public int[] Offsets { get; }
    public int[] Tokens { get; }
    public int[] Labels { get; }
    public int Sequences => Offsets.Length - 1;
    public int Rows => Offsets[^1];
    public int Offset(int i) => Offsets[i];
    public int Length(int i) => Offsets[i + 1] - Offsets[i];

    /// <summary>The label row r is trained to predict (the next label of its sequence), or −100.</summary>
    public int Target(int row)
    {
        int seq = Array.BinarySearch(Offsets, row + 1);
        bool lastOfSequence = seq >= 0;
        return lastOfSequence ? IgnoreIndex : Labels[row + 1];
    }

    /// <summary>Positions that carry a target: the cross-entropy's denominator.</summary>
    public int TargetCount => Enumerable.Range(0, Rows).Count(r => Target(r) != IgnoreIndex);
}

namespace Bamba.Generation;

/// <summary>
/// A copy of part of one sequence's state, as a prefix cache or a session file keeps it: the attention KV rows of a
/// run of positions [Start, End) and, droppably, the recurrent (Mamba) state at End. Restoring the segments of a path
/// from position 0, the last one with its recurrent state, rebuilds the sequence's state at that point exactly.
/// </summary>
public abstract class StateSegment
{
    public abstract int Start { get; }
    public abstract int End { get; }
    public int Tokens => End - Start;

    /// <summary>Whether the recurrent state at <see cref="End"/> is still held (a path can resume here).</summary>
    public abstract bool HasRecurrent { get; }

    /// <summary>Bytes held now (KV rows, plus the recurrent state while held).</summary>
    public abstract long Bytes { get; }

    /// <summary>Blocks of a paged KV pool held (counted in <see cref="Bytes"/> too); 0 where KV rows are plain copies.</summary>
    public virtual int Blocks => 0;

    /// <summary>Frees the recurrent state, keeping the KV rows that later segments of a path still need.</summary>
    public abstract void DropRecurrent();

    /// <summary>
    /// Gives back what the segment holds once no cache keeps it (device memory, shared KV blocks); a sequence restored
    /// from it earlier keeps its own references. The CPU's copies are left to the collector.
    /// </summary>
    public virtual void Release() { }
}

/// <summary>A sequence state that can be copied out in segments and rebuilt from them.</summary>
public interface ISnapshotState
{
    /// <summary>What <see cref="Capture"/> from <paramref name="from"/> would hold, so that room is made before it allocates.</summary>
    (long Bytes, int Blocks) CaptureSize(int from);

    /// <summary>The KV rows of positions [<paramref name="from"/>, Length) and the recurrent state now.</summary>
    StateSegment Capture(int from);

    /// <summary>
    /// Rebuilds a fresh (empty) state from contiguous segments starting at position 0; the last must hold its recurrent
    /// state. Afterwards the state is as it was when the last segment was captured.
    /// </summary>
    void Restore(IReadOnlyList<StateSegment> path);
}

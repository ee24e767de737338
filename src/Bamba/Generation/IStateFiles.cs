namespace Bamba.Generation;

/// <summary>
/// A model whose sequences can be written to a file and read back, to go on later from where they stopped (generate's
/// <c>--save-state</c> and <c>--load-state</c>). The CPU backend has it (<see cref="Modeling.SessionFile"/>); the CLI
/// asks for this capability rather than for a backend's type.
/// </summary>
public interface IStateFiles
{
    /// <summary>Writes the session's tokens and state to <paramref name="path"/>.</summary>
    void SaveState(string path, SequenceSession session);

    /// <summary>Reads a session this model saved; a file that is not one, is damaged or is another model's throws a <see cref="BambaException"/>.</summary>
    SequenceSession LoadState(string path);
}

namespace Bamba.Generation;

/// <summary>
/// Everything a model keeps for one sequence between calls (its hybrid cache). Backends subclass it;
/// a state belongs to the model that created it.
/// </summary>
public abstract class SequenceState : IDisposable
{
    /// <summary>Tokens appended so far, padding included.</summary>
    public int Length { get; protected set; }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

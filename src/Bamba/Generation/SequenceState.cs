namespace Bamba.Generation;

/// <summary>
/// Everything a model keeps for one sequence between calls (its hybrid cache). Backends subclass it;
/// a state belongs to the model that created it.
/// </summary>
public abstract class SequenceState : IDisposable
{
    /// <summary>Tokens appended so far, padding included.</summary>
    public int Length { get; protected set; }

    /// <summary>
    /// The LoRA adapter this sequence runs with: 0 for none, i for the model's <see cref="ISequenceModel.Adapters"/>[i − 1].
    /// A batch may mix adapters (each row gets its own sequence's low-rank product); it is fixed before the first token,
    /// as the state's contents depend on it.
    /// </summary>
    public int Adapter
    {
        get;
        set
        {
            if (Length > 0 && value != field) throw new InvalidOperationException("a sequence's adapter is set before its first token");
            field = value;
        }
    }

    /// <summary>
    /// Tells the state how many tokens it will hold in all, so a backend that grows its cache can take that room once
    /// (the scheduler knows a request's prompt + max new tokens). A hint: exceeding it still works.
    /// </summary>
    public virtual void Reserve(int tokens) { }

    /// <summary>Bytes this state holds (host or device memory), as a server's metrics report them; 0 where unknown.</summary>
    public virtual long Bytes => 0;

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

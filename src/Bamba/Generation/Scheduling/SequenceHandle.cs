using System.Threading.Channels;

namespace Bamba.Generation.Scheduling;

/// <summary>
/// The consumer's side of one submitted sequence: its tokens as they are produced, its prompt scores once the
/// prompt is in, and how it ended. Cancelling (or disposing) frees its slot at the scheduler's next step.
/// </summary>
public sealed class SequenceHandle : IDisposable
{
    private readonly Channel<GeneratedToken> _tokens = Channel.CreateUnbounded<GeneratedToken>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<PromptScores?> _prompt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<SequenceResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _registration;
    private readonly Action<SequenceHandle> _onCancel;
    private int _cancelled;

    internal SequenceHandle(SequenceRequest request, Action<SequenceHandle> onCancel, CancellationToken cancel)
    {
        Request = request;
        _onCancel = onCancel;
        Submitted = DateTime.UtcNow;
        _registration = cancel.Register(static h => ((SequenceHandle)h!).Cancel(), this);
    }

    public SequenceRequest Request { get; }
    public DateTime Submitted { get; }

    /// <summary>Generated tokens in order; the channel completes when the sequence ends (faults if the model failed).</summary>
    public ChannelReader<GeneratedToken> Tokens => _tokens.Reader;

    /// <summary>Completes when the whole prompt has been fed: with its scores if they were asked for, else null.</summary>
    public Task<PromptScores?> PromptDone => _prompt.Task;

    /// <summary>Completes when the sequence ends; a cancelled sequence ends with <see cref="SequenceFinish.Cancelled"/>.</summary>
    public Task<SequenceResult> Completion => _completion.Task;

    public bool IsCancelled => Volatile.Read(ref _cancelled) == 1;

    /// <summary>Stops the sequence; idempotent and safe from any thread.</summary>
    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0) _onCancel(this);
    }

    public void Dispose()
    {
        _registration.Unregister(); // never waits for a running callback (it may be waiting for the scheduler)
        if (!_completion.Task.IsCompleted) Cancel();
    }

    internal void Emit(GeneratedToken token) => _tokens.Writer.TryWrite(token);

    internal void PromptFinished(PromptScores? scores) => _prompt.TrySetResult(scores);

    internal void Finish(SequenceResult result)
    {
        _registration.Unregister(); // never waits for a running callback (it may be waiting for the scheduler)
        _prompt.TrySetResult(result.PromptScores);
        _tokens.Writer.TryComplete();
        _completion.TrySetResult(result);
    }

    internal void Fail(Exception error)
    {
        _registration.Unregister(); // never waits for a running callback (it may be waiting for the scheduler)
        _prompt.TrySetException(error);
        _tokens.Writer.TryComplete(error);
        _completion.TrySetException(error);
    }
}

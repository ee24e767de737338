using System.Runtime.CompilerServices;
using Bamba.Generation.Scheduling;

namespace Bamba.Serving;

/// <summary>What one generated token changed: the token (null for text released at the end) and the text it made visible.</summary>
public sealed record ChoiceDelta(GeneratedToken? Token, string Text);

/// <summary>How a choice ended, in OpenAI's terms ("stop" or "length"), and its token counts.</summary>
public sealed record ChoiceEnd(string FinishReason, int PromptTokens, int CompletionTokens, PromptScores? PromptScores);

/// <summary>
/// One choice (one sequence) being generated for an API call: reads the scheduler's tokens, turns them into text
/// with stop strings applied, and ends the sequence early when a stop string appears.
/// </summary>
public sealed class ChoiceRun(SequenceHandle handle, TextStream? text) : IDisposable
{
    private int _consumed;
    private bool _stoppedByText;

    public SequenceHandle Handle => handle;
    /// <summary>Text so far (empty for a model without a tokenizer).</summary>
    public string Text => text?.Text ?? "";

    public async IAsyncEnumerable<ChoiceDelta> ReadAsync([EnumeratorCancellation] CancellationToken cancel = default)
    {
        await foreach (var token in handle.Tokens.ReadAllAsync(cancel).ConfigureAwait(false))
        {
            _consumed++;
            yield return new ChoiceDelta(token, text?.Push(token.Id) ?? "");
            if (text is { Stopped: true })
            {
                _stoppedByText = true;
                handle.Cancel(); // the rest would be cut anyway: free the slot now
                yield break;
            }
        }
        if (text?.Flush() is { Length: > 0 } tail) yield return new ChoiceDelta(null, tail);
    }

    /// <summary>Waits for the sequence to end (after <see cref="ReadAsync"/> has been drained).</summary>
    public async Task<ChoiceEnd> EndAsync()
    {
        var result = await handle.Completion.ConfigureAwait(false);
        string reason = _stoppedByText || result.Finish == SequenceFinish.Stop ? "stop" : "length";
        if (result.Finish == SequenceFinish.Cancelled && !_stoppedByText)
            throw new OperationCanceledException("the sequence was cancelled");
        return new ChoiceEnd(reason, result.PromptTokens, _consumed, result.PromptScores);
    }

    public void Dispose() => handle.Dispose();
}

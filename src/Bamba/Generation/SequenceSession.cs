namespace Bamba.Generation;

/// <summary>
/// One sequence kept between runs (a chat kept in memory, a state file): its tokens and its state, which holds every
/// token but the last. The last is fed by the next run, whose first logits come from it, so a session can always
/// continue, with or without new tokens.
/// </summary>
public sealed class SequenceSession : IDisposable
{
    private readonly ISequenceModel _model;
    private readonly List<int> _tokens;

    /// <param name="state">a state of <paramref name="model"/> holding <paramref name="tokens"/> less the last (empty: a new session).</param>
    public SequenceSession(ISequenceModel model, SequenceState state, IEnumerable<int> tokens)
    {
        _model = model;
        _tokens = [.. tokens];
        State = state;
        if (state.Length != Math.Max(0, _tokens.Count - 1))
            throw new ArgumentException($"the state holds {state.Length} tokens; a session of {_tokens.Count} tokens holds all but the last");
    }

    public static SequenceSession Start(ISequenceModel model) => new(model, model.CreateState(), []);

    public SequenceState State { get; }
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>
    /// Appends <paramref name="tokens"/> (a prompt, the next message; may be empty once the session has tokens) and
    /// generates up to <paramref name="maxNewTokens"/> tokens after them; 0 only ingests them.
    /// </summary>
    public GenerationResult Run(Generator generator, int[] tokens, int maxNewTokens, GenerationOptions options)
    {
        var input = _tokens.Count > 0 ? [_tokens[^1], .. tokens] : tokens;
        if (input.Length == 0) throw new BambaException("the session is empty: give a prompt");
        var history = _tokens.Concat(tokens).ToArray();
        GenerationResult result;
        if (maxNewTokens == 0)
        {
            if (input.Length > 1) _model.Step([State], [input[..^1]]);
            result = new GenerationResult([], FinishReason.Length);
        }
        else result = generator.Continue(State, input, history, options with { MaxNewTokens = maxNewTokens });
        _tokens.AddRange(tokens);
        _tokens.AddRange(result.TokenIds);
        return result;
    }

    public void Dispose() => State.Dispose();
}

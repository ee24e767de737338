using Bamba.Generation.Scheduling;
using Bamba.Serving;
using Bamba.Server.Protocol;

namespace Bamba.Server.Endpoints;

/// <summary>Legacy completions logprobs: token texts, their logprobs, the top alternatives and each token's text offset.</summary>
internal sealed class CompletionLogprobsBuilder(ITextCodec? text, int textOffset)
{
    private readonly CompletionLogprobs _result = new([], [], [], []);
    private int _offset = textOffset;

    public static string TokenText(ITextCodec? text, int id) => text?.TokenText(id) ?? $"token_id:{id}";

    /// <summary>The prompt's tokens with their scores (the first has none), for <c>echo</c>.</summary>
    public void AddPrompt(int[] ids, PromptScores? scores)
    {
        for (int t = 0; t < ids.Length; t++)
            Add(ids[t], scores?.Logprobs[t], t == 0 ? null : scores?.TopLogprobs[t]);
    }

    public void Add(GeneratedToken token) => Add(token.Id, token.Logprob, token.TopLogprobs);

    public CompletionLogprobs Build() => _result;

    /// <summary>Takes what was added so far (for one stream chunk) and starts over, keeping the text offset.</summary>
    public CompletionLogprobs TakeChunk()
    {
        var chunk = new CompletionLogprobs([.. _result.Tokens], [.. _result.TokenLogprobs], [.. _result.TopLogprobs], [.. _result.TextOffset]);
        _result.Tokens.Clear(); _result.TokenLogprobs.Clear(); _result.TopLogprobs.Clear(); _result.TextOffset.Clear();
        return chunk;
    }

    private void Add(int id, double? logprob, TokenLogprob[]? top)
    {
        string piece = TokenText(text, id);
        _result.Tokens.Add(piece);
        _result.TokenLogprobs.Add(logprob);
        _result.TopLogprobs.Add(top is null ? null : TopDictionary(top));
        _result.TextOffset.Add(_offset);
        // Offsets index the choice's text, which leaves special tokens (BOS, EOS) out.
        _offset += text?.Decode([id]).Length ?? piece.Length;
    }

    private Dictionary<string, double> TopDictionary(TokenLogprob[] top)
    {
        var dict = new Dictionary<string, double>();
        foreach (var t in top) dict.TryAdd(TokenText(text, t.Id), t.Logprob); // two ids may share a text: keep the likelier
        return dict;
    }
}

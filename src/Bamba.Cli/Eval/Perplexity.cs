namespace Bamba.Cli.Eval;

/// <summary>Perplexity of a text, per token and per UTF-8 byte.</summary>
internal sealed record PerplexityReport(string File, int Tokens, long Bytes, double NegativeLogLikelihood, int Context, int Stride)
{
    public double TokenPerplexity => Math.Exp(NegativeLogLikelihood / Tokens);
    public double BytePerplexity => Math.Exp(NegativeLogLikelihood / Bytes);
    public double BitsPerByte => NegativeLogLikelihood / (Math.Log(2) * Bytes);
}

/// <summary>
/// Sliding-window perplexity, as transformers' perplexity guide computes it: windows of <c>context</c> tokens that
/// start every <c>stride</c> tokens; each window scores only the tokens the previous one did not, so every token but
/// the first is scored once, with up to <c>context − 1</c> tokens before it.
/// </summary>
internal static class Perplexity
{
    public static PerplexityReport Run(ITokenScorer scorer, string file, int[] ids, long bytes, int context, int stride)
    {
        if (ids.Length < 2) throw new BambaException($"{file}: at least two tokens are needed to measure perplexity");
        double nll = 0;
        int scored = 0, previousEnd = 1; // the first token has no context
        for (int begin = 0; ; begin += stride)
        {
            int end = Math.Min(begin + context, ids.Length);
            var logprobs = scorer.Score([ids[begin..end]])[0];
            for (int g = Math.Max(previousEnd, begin + 1); g < end; g++)
            {
                nll -= logprobs[g - begin]!.Value;
                scored++;
            }
            previousEnd = end;
            if (end == ids.Length) break;
        }
        return new PerplexityReport(file, scored, bytes, nll, context, stride);
    }
}

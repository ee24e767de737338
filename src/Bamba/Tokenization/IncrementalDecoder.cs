namespace Bamba.Tokenization;

/// <summary>
/// Turns ids arriving one at a time into text pieces whose concatenation equals decoding all ids at once.
/// </summary>
/// <remarks>
/// Same scheme as tokenizers' DecodeStream: the ids since the last emitted piece are decoded together with a few
/// earlier ids (the prefix), so decoders that look at neighbours (Metaspace's first-token rule, byte fallback runs)
/// see context; the new text is what lies beyond the prefix's text. While that text ends in U+FFFD the last token
/// is an incomplete UTF-8 sequence (e.g. half of an emoji) and nothing is emitted yet.
/// </remarks>
public sealed class IncrementalDecoder
{
    private readonly HfTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<int> _ids = [];
    private string _prefix = "";
    private int _prefixCount; // ids at the front of _ids that make up _prefix

    public IncrementalDecoder(HfTokenizer tokenizer, bool skipSpecialTokens = false)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one id; returns the text it completes ("" while a character is still incomplete).</summary>
    public string Add(int id)
    {
        if (_prefix.Length == 0 && _ids.Count > 0)
        {
            string candidate = Decode(_ids);
            if (!candidate.EndsWith('\uFFFD')) { _prefix = candidate; _prefixCount = _ids.Count; }
        }
        _ids.Add(id);
        string text = Decode(_ids);
        if (text.Length <= _prefix.Length || text.EndsWith('\uFFFD') || !text.StartsWith(_prefix, StringComparison.Ordinal))
            return "";
        string added = text[_prefix.Length..];
        // Keep only the ids after the old prefix; they become the context for the next piece.
        _ids.RemoveRange(0, _prefixCount);
        _prefixCount = _ids.Count;
        _prefix = Decode(_ids);
        return added;
    }

    /// <summary>Whatever is still held back (an incomplete character decodes to U+FFFD), then resets.</summary>
    public string Flush()
    {
        string text = Decode(_ids);
        string rest = text.StartsWith(_prefix, StringComparison.Ordinal) ? text[_prefix.Length..] : "";
        _ids.Clear();
        _prefix = "";
        _prefixCount = 0;
        return rest;
    }

    private string Decode(List<int> ids) => _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids), _skipSpecialTokens);
}

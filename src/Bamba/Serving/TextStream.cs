namespace Bamba.Serving;

/// <summary>
/// Turns generated ids into text pieces as they arrive and applies stop strings: text that could still turn into a
/// stop string, or that ends in an incomplete UTF-8 character, is held back until it cannot; the text stops before
/// the first stop string found (which is not emitted, as in OpenAI's API).
/// </summary>
public sealed class TextStream(ITextCodec codec, IReadOnlyList<string> stops)
{
    private readonly List<int> _ids = [];
    private string _text = "";
    private int _emitted;

    /// <summary>True once a stop string appeared; everything after it is dropped.</summary>
    public bool Stopped { get; private set; }

    /// <summary>All text emitted so far.</summary>
    public string Text => _text[.._emitted];

    /// <summary>Adds one token and returns the text that is now safe to show (possibly empty).</summary>
    public string Push(int id)
    {
        if (Stopped) return "";
        _ids.Add(id);
        _text = codec.Decode(_ids);
        int stopAt = FindStop();
        if (stopAt >= 0)
        {
            Stopped = true;
            _text = _text[..stopAt];
            return Take(_text.Length);
        }
        return Take(SafeEnd());
    }

    /// <summary>Returns what was held back (the sequence ended).</summary>
    public string Flush() => Take(_text.Length);

    private string Take(int end)
    {
        if (end <= _emitted) return "";
        string piece = _text[_emitted..end];
        _emitted = end;
        return piece;
    }

    /// <summary>The first stop string's start in the text not yet emitted (a stop may straddle held-back text), or −1.</summary>
    private int FindStop()
    {
        int best = -1;
        foreach (var stop in stops)
        {
            int from = Math.Max(0, _emitted - stop.Length + 1);
            int at = _text.IndexOf(stop, from, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best)) best = at;
        }
        return best;
    }

    /// <summary>End of the text that can be shown: before a trailing replacement character (a split UTF-8 sequence)
    /// and before a suffix that is the start of some stop string.</summary>
    private int SafeEnd()
    {
        int end = _text.Length;
        while (end > _emitted && _text[end - 1] == '\uFFFD') end--;
        int hold = 0;
        foreach (var stop in stops)
            for (int k = Math.Min(stop.Length - 1, end - _emitted); k > hold; k--)
                if (string.CompareOrdinal(_text, end - k, stop, 0, k) == 0) { hold = k; break; }
        return end - hold;
    }
}

namespace Bamba.Serving;

/// <summary>
/// Turns generated ids into text pieces as they arrive and applies stop strings: text that could still turn into a
/// stop string is held back until it cannot; the text ends before the first stop string found (which is not
/// emitted, as in OpenAI's API).
/// </summary>
public sealed class TextStream(ITextCodec codec, IReadOnlyList<string> stops)
{
    private readonly ITextDecoder _decoder = codec.CreateDecoder();
    private readonly System.Text.StringBuilder _text = new();
    private readonly int _longestStop = stops.Count == 0 ? 0 : stops.Max(s => s.Length);
    private int _emitted;

    /// <summary>True once a stop string appeared; everything after it is dropped.</summary>
    public bool Stopped { get; private set; }

    /// <summary>All text emitted so far.</summary>
    public string Text => _text.ToString(0, _emitted);

    /// <summary>Adds one token and returns the text that is now safe to show (possibly empty).</summary>
    public string Push(int id) => Stopped ? "" : Release(_decoder.Add(id), final: false);

    /// <summary>Returns what was held back (the sequence ended).</summary>
    public string Flush() => Stopped ? "" : Release(_decoder.Flush(), final: true);

    private string Release(string piece, bool final)
    {
        _text.Append(piece);
        // Only the unemitted tail (plus a stop's length of context before it) can hold a new stop string.
        int from = Math.Max(0, _emitted - Math.Max(0, _longestStop - 1));
        string tail = _text.ToString(from, _text.Length - from);
        int stopAt = FirstStop(tail);
        if (stopAt >= 0)
        {
            Stopped = true;
            _text.Length = Math.Max(_emitted, from + stopAt);
            return Take(_text.Length);
        }
        return Take(final ? _text.Length : _text.Length - HeldBack(tail));
    }

    private string Take(int end)
    {
        if (end <= _emitted) return "";
        string piece = _text.ToString(_emitted, end - _emitted);
        _emitted = end;
        return piece;
    }

    private int FirstStop(string tail)
    {
        int best = -1;
        foreach (var stop in stops)
        {
            int at = tail.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best)) best = at;
        }
        return best;
    }

    /// <summary>Length of the longest suffix of the text that is the start of a stop string (it may yet become one).</summary>
    private int HeldBack(string tail)
    {
        int hold = 0;
        foreach (var stop in stops)
            for (int k = Math.Min(stop.Length - 1, tail.Length); k > hold; k--)
                if (string.CompareOrdinal(tail, tail.Length - k, stop, 0, k) == 0) { hold = k; break; }
        return hold;
    }
}

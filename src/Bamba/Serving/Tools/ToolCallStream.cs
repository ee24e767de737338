namespace Bamba.Serving.Tools;

/// <summary>
/// One streamed choice with tools on: text passes through as it comes, except text that may still become a tool
/// call (it starts with the format's marker, or could), which is held and parsed at the end.
/// </summary>
public sealed class ToolCallStream(ToolRequest tools, bool parallel)
{
    private readonly ToolCallFormat _format = tools.Format ?? throw new ArgumentException("tools are off", nameof(tools));
    private readonly System.Text.StringBuilder _held = new();
    private bool _passing;

    /// <summary>The part of <paramref name="delta"/> to show now as content.</summary>
    public string Push(string delta)
    {
        if (_passing) return delta;
        _held.Append(delta);
        string start = _held.ToString().TrimStart();
        if (start.Length == 0 || MayBeCall(start)) return "";
        _passing = true;
        string all = _held.ToString();
        _held.Clear();
        return all;
    }

    /// <summary>At the end: the held text as content and the calls parsed from it.</summary>
    public (string? Content, List<ToolCall> Calls) Finish() =>
        _held.Length == 0 ? (null, []) : tools.Parse(_held.ToString(), parallel);

    private bool MayBeCall(string start) =>
        start.StartsWith(_format.Marker, StringComparison.Ordinal) || _format.Marker.StartsWith(start, StringComparison.Ordinal)
        || start.StartsWith("<|python_tag|>", StringComparison.Ordinal) || "<|python_tag|>".StartsWith(start, StringComparison.Ordinal);
}

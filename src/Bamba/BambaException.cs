namespace Bamba;

/// <summary>
/// An error the user can cause and fix (a missing file, a bad config field, a truncated tensor, a bad flag).
/// The message names what is wrong and what was expected; front ends print it on one line, without a stack trace.
/// </summary>
public class BambaException : Exception
{
    public BambaException(string message) : base(message) { }
    public BambaException(string message, Exception inner) : base(message, inner) { }
}

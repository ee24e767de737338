namespace Bamba.Cli;

/// <summary>
/// The one place that decides which exceptions are the user's doing: they become one line on stderr and exit code
/// 2. Anything else is a bug in bamba and keeps its stack trace.
/// </summary>
internal static class UserErrors
{
    public const int ExitCode = 2;

    public static string? Describe(Exception e) => e switch
    {
        BambaException => e.Message,
        FileNotFoundException f => $"{f.FileName ?? "a file"}: file not found",
        DirectoryNotFoundException => e.Message,
        UnauthorizedAccessException => e.Message,
        _ => null,
    };
}

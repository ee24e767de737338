namespace Bamba.Cli.Commands;

/// <summary>The shared <c>--input FILE</c> / <c>--text VALUE</c> choice of tokenize and detokenize.</summary>
internal static class InputChoice
{
    /// <summary>The --input path, or null when --text was given; exactly one of them is required.</summary>
    public static string? Require(CommandLine args)
    {
        string? input = args.String("input");
        bool hasText = args.Has("text");
        if (input is not null && hasText) throw new BambaException("give either --input or --text, not both");
        if (input is null && !hasText) throw new BambaException("--input FILE.jsonl or --text is required");
        if (hasText && args.String("text") is null) throw new BambaException("--text needs a value");
        return input;
    }
}

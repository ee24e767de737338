namespace Bamba.Cli.Commands;

/// <summary>The shared <c>--input FILE</c> / <c>--text VALUE</c> choice of tokenize and detokenize.</summary>
internal static class InputChoice
{
    /// <summary><c>--tokenizer DIR</c> or, as every model command takes it, <c>--model DIR</c>.</summary>
    public static readonly Flag[] TokenizerFlags =
    [
        new("tokenizer", "the directory with tokenizer.json (and tokenizer_config.json)", "DIR"),
        new("model", "a model directory, for its tokenizer (the same as --tokenizer DIR)", "DIR"),
    ];

    /// <summary>The directory named by exactly one of --tokenizer and --model.</summary>
    public static string TokenizerDirectory(CommandLine args)
    {
        string? tokenizer = args.String("tokenizer"), model = args.String("model");
        if (tokenizer is not null && model is not null) throw new BambaException("give either --tokenizer or --model, not both");
        return tokenizer ?? model ?? throw new BambaException("--tokenizer DIR (or --model DIR) is required");
    }

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

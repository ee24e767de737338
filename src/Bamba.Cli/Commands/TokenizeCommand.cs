using System.Text.Json;
using System.Text.Json.Nodes;
using Bamba.Tokenization;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba tokenize --tokenizer DIR (--input FILE.jsonl | --text TEXT) [--add-special-tokens]</c>:
/// each <c>{"text": "..."}</c> line becomes an <c>{"ids": [...]}</c> line, in the same order.
/// </summary>
internal sealed class TokenizeCommand : ICommand
{
    public string Name => "tokenize";
    public string Summary => "text to token ids with a model's tokenizer.json (JSON lines)";
    public IReadOnlySet<string> Switches { get; } = new HashSet<string> { "add-special-tokens" };

    public int Run(CommandLine args, TextWriter stdout)
    {
        var tokenizer = HfTokenizer.Load(args.Required("tokenizer"));
        bool addSpecial = args.Switch("add-special-tokens");
        string? input = InputChoice.Require(args);
        // Read everything first so a bad line fails before any output is written.
        var texts = input is null ? [args.String("text")!] : ReadTexts(input).ToList();
        args.EnsureAllUsed();
        foreach (var text in texts) stdout.WriteLine(JsonLines.Write(new { ids = tokenizer.Encode(text, addSpecial) }));
        return 0;
    }

    private static IEnumerable<string> ReadTexts(string path)
    {
        foreach (var (line, obj) in JsonLines.Read(path))
            yield return obj["text"] is JsonValue v && v.GetValueKind() == JsonValueKind.String
                ? v.GetValue<string>()
                : throw new BambaException($"{path}:{line}: expected {{\"text\": \"...\"}} with a string");
    }
}

/// <summary>
/// <c>bamba detokenize --tokenizer DIR (--input FILE.jsonl | --text "1,2,3") [--skip-special-tokens]</c>:
/// each <c>{"ids": [...]}</c> line becomes a <c>{"text": "..."}</c> line, in the same order.
/// </summary>
internal sealed class DetokenizeCommand : ICommand
{
    public string Name => "detokenize";
    public string Summary => "token ids to text with a model's tokenizer.json (JSON lines)";
    public IReadOnlySet<string> Switches { get; } = new HashSet<string> { "skip-special-tokens" };

    public int Run(CommandLine args, TextWriter stdout)
    {
        var tokenizer = HfTokenizer.Load(args.Required("tokenizer"));
        bool skipSpecial = args.Switch("skip-special-tokens");
        string? input = InputChoice.Require(args);
        var lines = input is null ? [(CommandLine.ParseIds("text", args.String("text")!), "--text")] : ReadIds(input).ToList();
        args.EnsureAllUsed();
        foreach (var (ids, where) in lines)
        {
            foreach (int id in ids)
                if (tokenizer.IdToToken(id) is null)
                    throw new BambaException($"{where}: token id {id} is not in the tokenizer's vocabulary (0..{tokenizer.VocabSize - 1})");
            stdout.WriteLine(JsonLines.Write(new { text = tokenizer.Decode(ids, skipSpecial) }));
        }
        return 0;
    }

    private static IEnumerable<(int[] Ids, string Where)> ReadIds(string path)
    {
        foreach (var (line, obj) in JsonLines.Read(path))
            yield return (JsonLines.Ids(obj["ids"], $"{path}:{line}"), $"{path}:{line}");
    }
}

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

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
    public IReadOnlyList<Flag> Flags { get; } =
    [
        .. InputChoice.TokenizerFlags,
        new("input", "JSON lines {\"text\": ...}; - reads stdin", "FILE.jsonl"),
        new("text", "one text to encode", "TEXT"),
        Flag.Switch("add-special-tokens", "apply the tokenizer's template (e.g. BOS)"),
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba tokenize --model models/default --text \"Hello world\"",
        "bamba tokenize --tokenizer DIR --input texts.jsonl --add-special-tokens > ids.jsonl",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        var tokenizer = HfTokenizer.Load(InputChoice.TokenizerDirectory(args));
        bool addSpecial = args.Switch("add-special-tokens");
        string? input = InputChoice.Require(args);
        // Read everything first so a bad line fails before any output is written.
        var texts = input is null ? [args.String("text")!] : ReadTexts(input).ToList();
        args.EnsureAllUsed();
        foreach (var text in texts) stdout.WriteLine(JsonLines.Write(new IdsLine(tokenizer.Encode(text, addSpecial))));
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

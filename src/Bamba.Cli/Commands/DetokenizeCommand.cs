using Bamba.Tokenization;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba detokenize --tokenizer DIR (--input FILE.jsonl | --text "1,2,3") [--skip-special-tokens]</c>:
/// each <c>{"ids": [...]}</c> line becomes a <c>{"text": "..."}</c> line, in the same order.
/// </summary>
internal sealed class DetokenizeCommand : ICommand
{
    public string Name => "detokenize";
    public string Summary => "token ids to text with a model's tokenizer.json (JSON lines)";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        .. InputChoice.TokenizerFlags,
        new("input", "JSON lines {\"ids\": [...]}; - reads stdin", "FILE.jsonl"),
        new("text", "one list of ids, comma-separated", "1,2,3"),
        Flag.Switch("skip-special-tokens", "leave special tokens out of the text"),
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba detokenize --model models/default --text 1,400,72",
        "bamba detokenize --tokenizer DIR --input ids.jsonl --skip-special-tokens",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        var tokenizer = HfTokenizer.Load(InputChoice.TokenizerDirectory(args));
        bool skipSpecial = args.Switch("skip-special-tokens");
        string? input = InputChoice.Require(args);
        var lines = input is null ? [(CommandLine.ParseIds("text", args.String("text")!), "--text")] : ReadIds(input).ToList();
        args.EnsureAllUsed();
        foreach (var (ids, where) in lines)
        {
            foreach (int id in ids)
                if (tokenizer.IdToToken(id) is null)
                    throw new BambaException($"{where}: token id {id} is not in the tokenizer's vocabulary (0..{tokenizer.VocabSize - 1})");
            stdout.WriteLine(JsonLines.Write(new TextLine(tokenizer.Decode(ids, skipSpecial))));
        }
        return 0;
    }

    private static IEnumerable<(int[] Ids, string Where)> ReadIds(string path)
    {
        foreach (var (line, obj) in JsonLines.Read(path))
            yield return (JsonLines.Ids(obj["ids"], $"{path}:{line}"), $"{path}:{line}");
    }
}

using Bamba.Training.Data;
using Bamba.Training.Tokenizer;

namespace Bamba.Cli.Commands;

/// <summary><c>bamba train-tokenizer --data FILE --vocab-size N --out DIR</c>: byte-level BPE from text.</summary>
internal sealed class TrainTokenizerCommand : ICommand
{
    public string Name => "train-tokenizer";
    public string Summary => "train a byte-level BPE tokenizer (tokenizer.json) from .txt or .jsonl text";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("data", "the text: .jsonl ({\"text\": ...} per line) or .txt (documents separated by blank lines)", "FILE"),
        new("vocab-size", "tokens in the vocabulary, special and byte tokens included", "N", "4096"),
        new("out", "the directory for tokenizer.json and tokenizer_config.json", "DIR"),
    ];
    public IReadOnlyList<string> Examples { get; } = ["bamba train-tokenizer --data corpus.jsonl --vocab-size 4096 --out my-tokenizer"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string data = args.Required("data");
        int vocabSize = args.Int("vocab-size", 4096, min: 1);
        string output = args.Required("out");
        args.EnsureAllUsed();
        var documents = CorpusReader.Read(data);
        var texts = documents.Select(d => d.Text ?? throw new BambaException($"{data}: train-tokenizer needs text documents, found {{\"ids\"}}")).ToList();
        var vocabulary = BpeTrainer.Train(texts, vocabSize, TokenizerFiles.SpecialTokens);
        TokenizerFiles.Write(output, vocabulary);
        stdout.WriteLine($"wrote {Path.Combine(output, "tokenizer.json")}: {vocabulary.Tokens.Count} tokens, {vocabulary.Merges.Count} merges from {texts.Count} documents");
        return 0;
    }
}

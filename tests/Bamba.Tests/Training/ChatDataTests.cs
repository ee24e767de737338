using Bamba.Serving;
using Bamba.Tokenization;
using Bamba.Training;
using Bamba.Training.Data;

namespace Bamba.Tests.Training;

/// <summary>
/// Chat SFT data: conversations rendered with the real Llama-3 template and the llama3 tokenizer, labels −100 on
/// everything but the assistant's words and the <c>&lt;|eot_id|&gt;</c> that ends them, checked token by token against
/// the template's text written out by hand; prompt/completion pairs; bad lines with their line numbers.
/// </summary>
public sealed class ChatDataTests : IDisposable
{
    private const int Ignore = TrainingBatch.IgnoreIndex;
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-chat-data-").FullName;
    private static readonly string Llama3 = Path.Combine(Fixtures.Root, "tokenizers", "llama3");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SupervisedEncoder Encoder(TrainOn trainOn, out HfTokenizer tokenizer)
    {
        tokenizer = HfTokenizer.Load(Llama3);
        return new SupervisedEncoder(tokenizer, TextCodecs.ChatRenderer(tokenizer), trainOn);
    }

    private static readonly ChatTurn[] Conversation =
    [
        new("system", "You answer in riddles."),
        new("user", "What has keys but no locks?"),
        new("assistant", " A piano. "),
        new("user", "And one more?"),
        new("assistant", "A map: it has roads, but no cars."),
    ];

    /// <summary>The template's text for <see cref="Conversation"/>, cut by hand into (piece, trained) in order.</summary>
    private static readonly (string Text, bool Trained)[] Pieces =
    [
        ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou answer in riddles.<|eot_id|>" +
         "<|start_header_id|>user<|end_header_id|>\n\nWhat has keys but no locks?<|eot_id|>" +
         "<|start_header_id|>assistant<|end_header_id|>\n\n", false),
        ("A piano.<|eot_id|>", true),
        ("<|start_header_id|>user<|end_header_id|>\n\nAnd one more?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", false),
        ("A map: it has roads, but no cars.<|eot_id|>", true),
        ("<|start_header_id|>assistant<|end_header_id|>\n\n", false), // this template always ends with a generation prompt
    ];

    [Fact]
    public void AssistantOnlyLabelsMatchTheRenderedTemplateTokenByToken()
    {
        var encoder = Encoder(TrainOn.Assistant, out var tokenizer);
        var (ids, labels) = encoder.Conversation(Conversation);

        var rendered = TextCodecs.ChatRenderer(tokenizer)!(Conversation, false, null);
        Assert.Equal(string.Concat(Pieces.Select(p => p.Text)), rendered);
        Assert.Equal(tokenizer.Encode(rendered), ids); // cutting at the spans changes no token
        var expectedIds = new List<int>();
        var expectedLabels = new List<int>();
        foreach (var (text, trained) in Pieces)
            foreach (int id in tokenizer.Encode(text))
            {
                expectedIds.Add(id);
                expectedLabels.Add(trained ? id : Ignore);
            }
        Assert.Equal(expectedIds, ids);
        Assert.Equal(expectedLabels, labels);
        var trainedText = tokenizer.Decode(labels.Where(l => l != Ignore).ToArray(), skipSpecialTokens: false);
        Assert.Equal("A piano.<|eot_id|>A map: it has roads, but no cars.<|eot_id|>", trainedText);
    }

    [Fact]
    public void TrainOnAllLabelsEveryToken()
    {
        var (ids, labels) = Encoder(TrainOn.All, out _).Conversation(Conversation);
        Assert.Equal(ids, labels);
    }

    [Fact]
    public void PromptCompletionTrainsOnTheCompletionAndEos()
    {
        var encoder = Encoder(TrainOn.Assistant, out var tokenizer);
        var (ids, labels) = encoder.PromptCompletion("Q: What has keys?", " A: A piano.");
        var prompt = tokenizer.Encode("Q: What has keys?");
        var completion = tokenizer.Encode(" A: A piano.");
        Assert.Equal([.. prompt, .. completion, tokenizer.EosId!.Value], ids);
        Assert.Equal([.. prompt.Select(_ => Ignore), .. completion, tokenizer.EosId!.Value], labels);
    }

    [Fact]
    public void PackedRowsCarryTheLabelsAndTheLossSkipsMaskedTokens()
    {
        string data = Write("chat.jsonl",
            """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}""",
            """{"prompt": "2+2=", "completion": "4"}""");
        var tokenizer = HfTokenizer.Load(Llama3);
        var corpus = TokenizedCorpus.Load(data, tokenizer, 128256, evalFraction: 0, seed: 1);
        Assert.NotNull(corpus.TrainLabels);
        int total = corpus.Train.Sum(d => d.Length);
        var row = new PackedStream(corpus.Train, 1, new DataCursor(), corpus.TrainLabels).NextRow(total);
        var expected = corpus.TrainLabels!.SelectMany(l => l).ToArray();
        Assert.Equal(expected.Order(), row.Labels.Order()); // one epoch: every label once, in shuffled document order
        // Targets: "Hello!" + eot, then "4" + eos; the first token of each sequence predicts nothing.
        Assert.Equal(expected.Count(l => l != Ignore), row.TargetCount);
    }

    [Fact]
    public void BadLinesNameTheirLineAndCanBeSkipped()
    {
        string data = Write("bad.jsonl",
            """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}""",
            """{"messages": [{"role": "wizard", "content": "Hi"}]}""",
            """{"messages": []}""",
            """{"messages": [{"role": "user", "content": "only a question"}]}""",
            "not json");
        var tokenizer = HfTokenizer.Load(Llama3);
        var first = Assert.Throws<BambaException>(() => TokenizedCorpus.Load(data, tokenizer, 128256, 0, 1));
        Assert.StartsWith($"{data}:5: not valid JSON", first.Message); // unreadable lines stop the read, before any encoding
        var skipped = TokenizedCorpus.Load(data, tokenizer, 128256, 0, 1, skipBadLines: true);
        Assert.Single(skipped.Train);
        Assert.Equal(4, skipped.SkippedLines.Count);
        Assert.Contains(skipped.SkippedLines, m => m.StartsWith($"{data}:2: message 0: unknown role 'wizard'", StringComparison.Ordinal));
        Assert.Contains(skipped.SkippedLines, m => m == $"{data}:3: \"messages\" is empty");
        Assert.Contains(skipped.SkippedLines, m => m.StartsWith($"{data}:4: no assistant message", StringComparison.Ordinal));

        string good = Write("good.jsonl", """{"messages": [{"role": "wizard", "content": "Hi"}]}""");
        var unknown = Assert.Throws<BambaException>(() => TokenizedCorpus.Load(good, tokenizer, 128256, 0, 1));
        Assert.StartsWith($"{good}:1: message 0: unknown role 'wizard'", unknown.Message);
    }

    [Fact]
    public void ATokenizerWithoutATemplateIsABadLine()
    {
        string bare = Path.Combine(_dir, "bare");
        Directory.CreateDirectory(bare);
        File.Copy(Path.Combine(Llama3, "tokenizer.json"), Path.Combine(bare, "tokenizer.json"));
        string data = Write("chat.jsonl", """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}""");
        var e = Assert.Throws<BambaException>(() => TokenizedCorpus.Load(data, HfTokenizer.Load(bare), 128256, 0, 1));
        Assert.Equal($"{data}:1: the tokenizer has no chat_template (tokenizer_config.json) to render \"messages\"", e.Message);
    }

    private string Write(string name, params string[] lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }
}

using Bamba.Tests.Cli;
using Bamba.Tokenization;
using Bamba.Training.Data;
using Bamba.Training.Tokenizer;

namespace Bamba.Tests.Training;

/// <summary>Byte-level BPE training: the written tokenizer.json loads, merges frequent words, and round-trips any text.</summary>
public sealed class TokenizerTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-bpe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Corpus = "the cat sat on the mat.\nthe dog sat on the log.\n\nthe cat and the dog are friends; the end.\n";

    [Fact]
    public void TrainedTokenizerLoadsMergesAndRoundTrips()
    {
        File.WriteAllText(Path.Combine(_dir, "corpus.txt"), Corpus);
        var r = CliRunner.Run("train-tokenizer", "--data", Path.Combine(_dir, "corpus.txt"), "--vocab-size", "300", "--out", Path.Combine(_dir, "tok"));
        Assert.True(r.ExitCode == 0, r.Stderr);

        var tokenizer = HfTokenizer.Load(Path.Combine(_dir, "tok"));
        Assert.Equal(2, tokenizer.EosId);
        Assert.Single(tokenizer.Encode(" the")); // the most frequent word became one token
        foreach (var text in new[] { "the cat sat", "unseen wörds ✓ and 123\n\ttabs", "" })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.True(tokenizer.Encode("the cat sat on the mat.").Length < "the cat sat on the mat.".Length / 2);
    }

    [Fact]
    public void TrainingIsDeterministicAndStopsAtTheVocabularySize()
    {
        var texts = CorpusReader.SplitOnBlankLines(Corpus).ToList();
        var a = BpeTrainer.Train(texts, 280, TokenizerFiles.SpecialTokens);
        var b = BpeTrainer.Train(texts, 280, TokenizerFiles.SpecialTokens);
        Assert.Equal(280, a.Tokens.Count);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(280 - 3 - 256, a.Merges.Count);
    }

    [Fact]
    public void TooSmallAVocabularyIsAUserError()
    {
        File.WriteAllText(Path.Combine(_dir, "c.txt"), Corpus);
        CliRunner.AssertUserError(CliRunner.Run("train-tokenizer", "--data", Path.Combine(_dir, "c.txt"), "--vocab-size", "100", "--out", _dir), "--vocab-size");
    }
}

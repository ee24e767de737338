using Bamba.Tokenization;

namespace Bamba.Tests.Tokenization;

/// <summary>
/// The two merge loops (linear scan for short words, priority queue for long ones) apply the same merges:
/// checked on the Llama-3 vocabulary with whole fixture texts as single words, short and long.
/// </summary>
public class BpeMergeTests
{
    [Fact]
    public void ScanAndHeapMergeIdentically()
    {
        var tok = TokenizerFixtures.Llama3;
        var random = new Random(7);
        int compared = 0;
        foreach (var c in TokenizerFixtures.LoadLlama3Cases())
        {
            string bytes = ByteLevelAlphabet.Encode(c.Text);
            for (int trial = 0; trial < 4 && bytes.Length > 0; trial++)
            {
                int start = random.Next(bytes.Length), length = Math.Min(bytes.Length - start, random.Next(1, 300));
                var symbols = bytes.Substring(start, length).Select(ch => tok.TokenToId(ch.ToString())!.Value).ToList();
                var byScan = tok.Model.MergeByScan([.. symbols]);
                var byHeap = tok.Model.MergeByHeap([.. symbols]);
                Assert.True(byScan.SequenceEqual(byHeap), $"case {c.Index} [{start}, +{length}): scan and heap merges differ");
                compared++;
            }
        }
        Assert.True(compared > 1000);
    }
}

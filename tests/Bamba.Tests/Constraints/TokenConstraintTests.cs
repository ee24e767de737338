using Bamba.Generation.Constraints;

namespace Bamba.Tests.Constraints;

/// <summary>
/// A constraint's mask and its application to logits against the grammar itself: an id is allowed exactly when its
/// bytes continue the input (the matcher does not die on them), or when it is an end id and the input is complete.
/// </summary>
public class TokenConstraintTests
{
    private const int Vocab = 300; // ids past 255 + the fragments write nothing; 300 is not a multiple of 64
    private static readonly int[] End = [2];

    [Theory]
    [InlineData("")]
    [InlineData("{\"")]
    [InlineData("{\"ok\": ")]
    [InlineData("{\"ok\": tr")]
    [InlineData("{\"ok\": true}")]
    public void ApplyKeepsExactlyTheIdsThatContinueTheInput(string prefix)
    {
        var grammar = ByteGrammars.Schema("""{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""", Vocab, End);
        var constraint = grammar.Start(End);
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(prefix)) constraint.Accept(b);
        var random = new Random(3);
        var logits = Enumerable.Range(0, Vocab).Select(_ => (float)random.NextDouble()).ToArray();
        var masked = (float[])logits.Clone();

        constraint.Apply(masked);

        for (int id = 0; id < Vocab; id++)
        {
            bool allowed = grammar.Vocabulary.TokenBytes[id] is { Length: > 0 } bytes
                ? !grammar.Matcher.Advance(constraint.State, bytes).IsDead
                : End.Contains(id) && constraint.State.CanFinish;
            Assert.True(allowed ? masked[id] == logits[id] : float.IsNegativeInfinity(masked[id]), $"id {id} after '{prefix}'");
        }
    }

    /// <summary>A state gives one mask array, never rewritten (a GPU keeps copies keyed by the array), the finished
    /// state's included; a new state gives another.</summary>
    [Fact]
    public void TheSameStateGivesTheSameUnchangedArray()
    {
        var grammar = ByteGrammars.Schema("""{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}""", Vocab, End);
        var constraint = grammar.Start(End);
        var seen = new List<(ulong[] Mask, ulong[] Bits)>();
        foreach (byte b in "{\"ok\": true}"u8)
        {
            var mask = constraint.AllowedMask();
            Assert.Same(mask, constraint.AllowedMask());
            seen.Add((mask, (ulong[])mask.Clone()));
            constraint.Accept(b);
        }
        var finished = constraint.AllowedMask();
        Assert.True(constraint.State.CanFinish);
        Assert.Same(finished, constraint.AllowedMask());
        Assert.Equal(1UL << End[0], finished[0] & (1UL << End[0]));
        Assert.All(seen, s => Assert.Equal(s.Bits, s.Mask)); // nothing handed out was written to later
    }
}

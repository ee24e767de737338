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
}

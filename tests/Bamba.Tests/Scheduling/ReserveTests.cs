using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;

namespace Bamba.Tests.Scheduling;

/// <summary>The scheduler reserves each admitted request's whole length in its state; a state that cannot fails that request alone.</summary>
public class ReserveTests
{
    /// <summary>States that refuse more than <see cref="Limit"/> tokens, and remember what they were asked for.</summary>
    private sealed class LimitedModel(ISequenceModel inner) : ISequenceModel
    {
        public const int Limit = 40;
        public readonly List<int> Reserved = [];
        public TokenSpace Tokens => inner.Tokens;
        public SequenceState CreateState() => new Limited(inner.CreateState(), this);
        public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs) =>
            inner.Step(states.Select(s => ((Limited)s).Inner).ToArray(), inputs);
        public void Dispose() => inner.Dispose();

        private sealed class Limited(SequenceState inner, LimitedModel owner) : SequenceState
        {
            public SequenceState Inner => inner;
            public override void Reserve(int tokens)
            {
                lock (owner.Reserved) owner.Reserved.Add(tokens);
                if (tokens > Limit) throw new BambaException($"out of device memory for {tokens} tokens");
            }
            public override void Dispose()
            {
                inner.Dispose();
                base.Dispose();
            }
        }
    }

    [Fact]
    public async Task ARequestWhoseReservationFailsEndsAloneAndFreesItsSlot()
    {
        using var model = new LimitedModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxBatch = 1, PrefillChunk = 8, MaxStepTokens = 8 });
        SequenceRequest Request(int prompt, int newTokens) => new() { Prompt = SchedulerTests.Prompt(prompt, prompt), MaxNewTokens = newTokens, EosTokenIds = [] };

        var tooLong = scheduler.RunAsync(Request(30, 20));
        var fine = Enumerable.Range(0, 3).Select(i => scheduler.RunAsync(Request(10 + i, 5))).ToArray();

        var error = await Assert.ThrowsAsync<BambaException>(() => tooLong);
        Assert.Contains("50 tokens", error.Message);
        foreach (var run in fine) Assert.Equal(5, (await run).Tokens.Length); // one slot: it must have come back
        Assert.Equal([50, 15, 16, 17], model.Reserved);
    }
}

using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Tests.Generation;

namespace Bamba.Tests.Scheduling;

/// <summary>
/// The scheduler's route for models that sample on the device (the CUDA model): eligible requests go through
/// StepAndSample and get the same greedy tokens; requests that need the logits on the host still get them.
/// </summary>
public class DeviceSamplingTests
{
    private static SequenceRequest Request(int seed, SamplingOptions? sampling = null, bool logprobs = false) => new()
    {
        Prompt = SchedulerTests.Prompt(5 + seed, seed), MaxNewTokens = 6, EosTokenIds = [], Sampling = sampling ?? SamplingOptions.Greedy,
        Logprobs = logprobs,
    };

    [Fact]
    public async Task GreedyRequestsAreSampledOnTheDeviceWithTheSameTokens()
    {
        var options = new SchedulerOptions { MaxBatch = 4, PrefillChunk = 4, MaxStepTokens = 12 };
        var requests = Enumerable.Range(0, 6).Select(i => Request(i)).ToArray();
        int[][] expected;
        using (var plain = new ContinuousBatchScheduler(BambaModel.Load(Fixtures.Model("tiny-bamba")), options))
            expected = (await Task.WhenAll(requests.Select(r => plain.RunAsync(r)))).Select(r => r.Tokens.Select(t => t.Id).ToArray()).ToArray();

        var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        using (var scheduler = new ContinuousBatchScheduler(model, options))
        {
            var results = await Task.WhenAll(requests.Select(r => scheduler.RunAsync(r)));
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(expected[i], results[i].Tokens.Select(t => t.Id).ToArray());
                Assert.All(results[i].Tokens, t => Assert.True(double.IsNaN(t.Logprob)));
            }
        }
        Assert.True(model.DeviceCalls > 0);
        Assert.Equal(0, model.HostCalls);
        model.Dispose();
    }

    /// <summary>
    /// A JSON-schema request samples on the device with its grammar's mask: the same tokens as the host's masked
    /// choice, a sentence of the grammar; an unconstrained request beside it goes without a mask.
    /// </summary>
    [Fact]
    public async Task ConstrainedRequestsAreSampledOnTheDeviceWithTheirMask()
    {
        var options = new SchedulerOptions { MaxBatch = 4, PrefillChunk = 4, MaxStepTokens = 12 };
        using var plainModel = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        var grammar = ByteGrammars.Schema("""{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"enum":[1,22,333]}},"required":["ok","n"],"additionalProperties":false}""",
            plainModel.Config.VocabSize, plainModel.Config.EosTokenIds);
        var constrained = Request(1) with { MaxNewTokens = 40, Grammar = grammar };
        var free = Request(2);
        (GeneratedToken[] Tokens, SequenceResult Result)[] expected;
        using (var plain = new ContinuousBatchScheduler(plainModel, options))
            expected = await Task.WhenAll(plain.RunAsync(constrained), plain.RunAsync(free));

        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        using (var scheduler = new ContinuousBatchScheduler(model, options))
        {
            var results = await Task.WhenAll(scheduler.RunAsync(constrained), scheduler.RunAsync(free));
            for (int i = 0; i < 2; i++) Assert.Equal(expected[i].Tokens.Select(t => t.Id), results[i].Tokens.Select(t => t.Id));
            var ids = results[0].Tokens.Select(t => t.Id).ToArray();
            Assert.Equal(SequenceFinish.Stop, results[0].Result.Finish);
            Assert.True(grammar.Matcher.Accepts(ByteGrammars.Text(grammar, ids)), System.Text.Encoding.UTF8.GetString(ByteGrammars.Text(grammar, ids)));
        }
        Assert.Equal(0, model.HostCalls);
        Assert.True(model.MaskedRows >= expected[0].Tokens.Length); // a masked row for every token it generated
    }

    [Fact]
    public async Task RequestsTheDeviceCannotSampleGetHostLogits()
    {
        using var model = new FakeDeviceModel(BambaModel.Load(Fixtures.Model("tiny-bamba")));
        using var scheduler = new ContinuousBatchScheduler(model, new SchedulerOptions { MaxBatch = 4, PrefillChunk = 4, MaxStepTokens = 12 });

        var withLogprobs = scheduler.RunAsync(Request(1, logprobs: true));
        var penalised = scheduler.RunAsync(Request(2, new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.3f }));
        var greedy = scheduler.RunAsync(Request(3));
        var results = await Task.WhenAll(withLogprobs, penalised, greedy);

        Assert.All(results[0].Tokens, t => Assert.True(t.Logprob <= 0));
        Assert.Equal(6, results[1].Tokens.Length);
        Assert.Equal(6, results[2].Tokens.Length);
        Assert.True(model.HostCalls > 0);
        Assert.True(model.DeviceCalls > 0);
    }
}

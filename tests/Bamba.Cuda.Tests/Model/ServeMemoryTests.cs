using Bamba.Backends.Cuda;
using Bamba.Benchmarks;
using Bamba.Generation;
using Bamba.Generation.Scheduling;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Sizing a server from GPU memory (<see cref="MemoryPlan"/> over <see cref="CudaModel.Memory"/>) counts what the device
/// really gives: sequence states take the bytes promised, and a budget filled to the last block still runs a full step.
/// </summary>
public class ServeMemoryTests(ITestOutputHelper output)
{
    private const long Mib = 1L << 20;

    [Fact]
    public void SequenceBytesAreWhatTheDeviceGivesUp()
    {
        Gpu.Require();
        using var model = CudaModel.Synthetic(SyntheticModel.Cpu05B);
        const int count = 32, tokens = 4096;
        long before = model.Device.MemoryInfo().Free;
        model.ReserveKvCache(count, tokens, (long)count * tokens); // the pool, sized as the scheduler sizes it
        var states = Enumerable.Range(0, count).Select(_ => Reserved(model, tokens)).ToArray();
        long taken = before - model.Device.MemoryInfo().Free;
        foreach (var s in states) s.Dispose();

        long promised = count * model.SequenceBytes(tokens);
        output.WriteLine($"{count} states of {tokens} tokens: promised {promised / (double)Mib:0.0} MiB, the device gave {taken / (double)Mib:0.0} MiB");
        // The driver hands out memory in 2 MiB pages: at most one page of rounding per recurrent state and one for the
        // KV pool; small ones may share a page already held.
        Assert.InRange(taken, promised * 9 / 10, promised + (count + 1) * 2 * Mib);
    }

    /// <summary>
    /// Bamba-9B's shape: the plan's KV pool and states, every slot holding a sequence of the longest context, fit together, and a step of the
    /// most rows the plan allows (every other slot decoding, one prompt chunk) still runs in what is left.
    /// </summary>
    [Fact]
    public void AFullBudgetLeavesRoomForTheLargestStep()
    {
        Gpu.Require();
        using var model = CudaModel.Synthetic(SyntheticModel.Bamba9B);
        var plan = MemoryPlan.Size(model.Memory(), new SchedulerOptions { MaxContext = 4096, PrefillChunk = 256 });
        output.WriteLine(plan.Summary());
        var o = plan.Options;
        int share = (o.TotalKvBlocks / o.MaxBatch - o.StateBlocks) * o.KvBlockSize;
        Assert.True(share >= o.MaxContext, $"each of {o.MaxBatch} slots should have KV for {o.MaxContext} tokens, has {share}");

        model.ReserveKvCache(o.MaxBatch, o.MaxContext, (long)share * o.MaxBatch); // as the scheduler does, with its KV budget
        var states = Enumerable.Range(0, o.MaxBatch).Select(_ => Reserved(model, o.MaxContext)).ToArray();
        try
        {
            var inputs = states.Select((_, i) => i < states.Length - 1 ? new SequenceInput(new[] { 5 + i })
                : new SequenceInput(Enumerable.Range(0, o.PrefillChunk).Select(t => 7 + t).ToArray())).ToArray();
            Assert.True(inputs.Sum(r => r.Length) <= o.MaxStepTokens);
            var ids = model.StepAndSample(states, inputs, [.. states.Select(_ => SamplingOptions.Greedy)], [.. states.Select(_ => 0f)]);
            var logits = model.Step(states, states.Select((_, i) => new SequenceInput(new[] { ids[i] })).ToArray());
            Assert.Equal(o.MaxBatch, logits.Length);
            output.WriteLine($"after the largest step: {model.Device.MemoryInfo().Free / (double)(1L << 30):0.00} GiB free");
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
    }

    private static CudaSequenceState Reserved(CudaModel model, int tokens)
    {
        var state = model.CreateState();
        state.Reserve(tokens);
        return state;
    }
}

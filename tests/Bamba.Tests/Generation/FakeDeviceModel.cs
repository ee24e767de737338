using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Tests.Generation;

/// <summary>
/// The CPU model with a greedy-only "device" sampler (argmax of the logits the plain step returns): lets the CPU tests
/// check which calls go to <see cref="IDeviceSampling"/> and which fall back to the host's logits.
/// </summary>
internal sealed class FakeDeviceModel(ISequenceModel inner) : ISequenceModel, IDeviceSampling
{
    public int DeviceCalls, HostCalls;
    /// <summary>Every uniform handed to <see cref="StepAndSample"/>, in call order.</summary>
    public List<float> Uniforms { get; } = [];
    public TokenSpace Tokens => inner.Tokens;
    public SequenceState CreateState() => inner.CreateState();

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        HostCalls++;
        return inner.Step(states, inputs);
    }

    public bool CanSample(SamplingOptions options) => options.IsGreedy && options.RepetitionPenalty == 1;

    public int[] StepAndSample(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs,
        IReadOnlyList<SamplingOptions> sampling, IReadOnlyList<float> uniforms, IReadOnlyList<ulong[]?>? allowed = null)
    {
        DeviceCalls++;
        Assert.All(sampling, s => Assert.True(CanSample(s)));
        Assert.Equal(states.Count, uniforms.Count);
        Uniforms.AddRange(uniforms);
        var logits = inner.Step(states, inputs);
        if (allowed is not null)
        {
            Assert.Equal(states.Count, allowed.Count);
            Assert.Contains(allowed, m => m is not null); // null for a batch with no constrained sequence
            for (int i = 0; i < logits.Length; i++)
                if (allowed[i] is { } mask) { MaskedRows++; Mask(logits[i], mask); }
        }
        return logits.Select(l => Sampler.ArgMax(l)).ToArray();
    }

    /// <summary>Rows that came with a grammar mask.</summary>
    public int MaskedRows { get; private set; }

    /// <summary>What the device does with a mask: −∞ for every id whose bit is clear.</summary>
    private static void Mask(float[] logits, ulong[] mask)
    {
        for (int id = 0; id < logits.Length; id++)
            if ((mask[id >> 6] >> (id & 63) & 1) == 0) logits[id] = float.NegativeInfinity;
    }

    public void Dispose() => inner.Dispose();
}

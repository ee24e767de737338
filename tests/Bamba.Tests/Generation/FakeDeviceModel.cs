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
    public BambaConfig Config => inner.Config;
    public SequenceState CreateState() => inner.CreateState();

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        HostCalls++;
        return inner.Step(states, inputs);
    }

    public bool CanSample(SamplingOptions options) => options.IsGreedy && options.RepetitionPenalty == 1;

    public int[] StepAndSample(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs,
        IReadOnlyList<SamplingOptions> sampling, IReadOnlyList<float> uniforms)
    {
        DeviceCalls++;
        Assert.All(sampling, s => Assert.True(CanSample(s)));
        Assert.Equal(states.Count, uniforms.Count);
        Uniforms.AddRange(uniforms);
        return inner.Step(states, inputs).Select(l => Sampler.ArgMax(l)).ToArray();
    }

    public void Dispose() => inner.Dispose();
}

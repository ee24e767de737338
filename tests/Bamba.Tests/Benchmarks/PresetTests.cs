using Bamba.Backends.Cuda.Bench;
using Bamba.Benchmarks;
using Bamba.Configuration;

namespace Bamba.Tests.Benchmarks;

/// <summary>The bench presets have their models' published sizes, and the GPU bench's floors count what a token reads.</summary>
public class PresetTests
{
    [Fact]
    public void Bamba9BHasItsPublishedParameterCount()
    {
        // The model card: 9.78 B parameters.
        Assert.InRange(GpuScenarios.Parameters(SyntheticModel.Bamba9B), 9.7e9, 9.9e9);
    }

    [Fact]
    public void GraniteTinyIsSevenBillionWithOneBillionActive()
    {
        var c = SyntheticModel.Preset("granite-4.0-h-tiny");
        Assert.Equal("granitemoehybrid", c.ModelType);
        Assert.Equal(4, c.NumAttentionLayers);
        Assert.False(c.UseRope);
        Assert.True(c.HasMixtureOfExperts);
        // The model card: 7 B parameters, 1 B active (the tied embedding counted once in each).
        Assert.InRange(GpuScenarios.Parameters(c), 6.5e9, 7.5e9);
        long embedding = (long)c.VocabSize * c.HiddenSize;
        Assert.InRange(GpuScenarios.MatrixParametersPerToken(c) + embedding, 0.9e9, 1.5e9);
    }

    [Fact]
    public void AnUnknownPresetNamesTheKnownOnes()
    {
        var e = Assert.Throws<BambaException>(() => SyntheticModel.Preset("granite-9000"));
        Assert.Contains("granite-4.0-h-tiny", e.Message);
    }
}

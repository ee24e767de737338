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
    public void GraniteSmallIsThirtyTwoBillionWithNineBillionActive()
    {
        var c = SyntheticModel.Preset("granite-4.0-h-small");
        Assert.Equal("granitemoehybrid", c.ModelType);
        Assert.Equal([5, 15, 25, 35], Enumerable.Range(0, c.NumHiddenLayers).Where(c.IsAttentionLayer));
        Assert.False(c.UseRope);
        Assert.Equal((72, 10), (c.NumExperts, c.NumExpertsPerToken));
        // The model card: 32 B parameters, 9 B active (the tied embedding counted once in each).
        Assert.InRange(GpuScenarios.Parameters(c), 31.5e9, 32.5e9);
        long embedding = (long)c.VocabSize * c.HiddenSize;
        Assert.InRange(GpuScenarios.MatrixParametersPerToken(c) + embedding, 8.5e9, 9.5e9);
    }

    [Fact]
    public void NemotronNano9BHasItsPublishedParameterCount()
    {
        var c = SyntheticModel.Preset("nemotron-h-9b");
        Assert.Equal("nemotron_h", c.ModelType);
        Assert.Equal(56, c.NumHiddenLayers);
        Assert.Equal(4, c.NumAttentionLayers);
        Assert.Equal(27, Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMambaLayer));
        Assert.False(c.HasMixtureOfExperts);
        // The model card: 8.89 B parameters (embedding and LM head separate).
        Assert.InRange(GpuScenarios.Parameters(c), 8.85e9, 8.93e9);
    }

    [Fact]
    public void AnUnknownPresetNamesTheKnownOnes()
    {
        var e = Assert.Throws<BambaException>(() => SyntheticModel.Preset("granite-9000"));
        Assert.Contains("granite-4.0-h-tiny", e.Message);
        Assert.Contains("granite-4.0-h-small", e.Message);
        Assert.Contains("nemotron-h-9b", e.Message);
    }
}

using Bamba.Backends.Cuda;
using Bamba.Benchmarks;
using Bamba.Configuration;

namespace Bamba.Tests.Backends;

/// <summary>Which models' routed experts the CUDA kernels take on the device (the others route on the host).</summary>
public class DeviceExpertLimitsTests
{
    [Theory]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-nemotron-h")]
    public void TheFamilyFixturesRouteOnTheDevice(string model) =>
        Assert.True(CudaOps.RoutesOnDevice(BambaConfigReader.Load(Path.Combine(Fixtures.Model(model), "config.json"))));

    [Fact]
    public void TheMixtureOfExpertsPresetsRouteOnTheDevice()
    {
        Assert.True(CudaOps.RoutesOnDevice(SyntheticModel.Preset("granite-4.0-h-tiny")));
        Assert.True(CudaOps.RoutesOnDevice(SyntheticModel.Preset("granite-4.0-h-small")));
    }

    [Fact]
    public void ShapesPastTheKernelsLimitsDoNot()
    {
        var tiny = SyntheticModel.Preset("granite-4.0-h-tiny");
        Assert.False(CudaOps.RoutesOnDevice(tiny with { NumExperts = KernelConstants.MoeMaxExperts + 8 }));
        Assert.False(CudaOps.RoutesOnDevice(tiny with { NumExpertsPerToken = KernelConstants.MoeMaxTopK + 1 }));
        Assert.False(CudaOps.RoutesOnDevice(tiny with { ExpertIntermediateSize = 500 })); // rows not whole 16-byte pieces
    }
}
